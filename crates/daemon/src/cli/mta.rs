//! `mailcast mta postfix|exim|sendmail`: (re)write the MTA's files under var/data.

use super::MtaArgs;
use crate::config::Settings;

pub async fn run(settings: &Settings, args: MtaArgs) -> anyhow::Result<()> {
    let store = super::open_store(settings).await?;
    let lists = crate::mta::lists_from_store(&store).await?;
    for path in crate::mta::write_files(settings, args.mta, &lists)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}
