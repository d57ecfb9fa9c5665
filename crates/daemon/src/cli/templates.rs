//! `mailcast templates set|show|list|remove`: Mailman's named templates, overridden for the
//! site (no option), a domain (`--domain D`) or a list (`--list L`).

use mailcast_model::{DomainName, ListAddress};
use mailcast_pipeline::templates;
use mailcast_store::TemplateScope;

use super::{TemplateScopeArgs, TemplatesCommand};
use crate::admin::templates::Source;
use crate::config::Settings;

fn scope(args: &TemplateScopeArgs) -> anyhow::Result<TemplateScope> {
    Ok(match (&args.list, &args.domain) {
        (Some(list), _) => TemplateScope::List(ListAddress::parse(list)?),
        (None, Some(domain)) => TemplateScope::Domain(DomainName::parse(domain)?),
        (None, None) => TemplateScope::Site,
    })
}

fn scope_name(scope: &TemplateScope) -> String {
    match scope {
        TemplateScope::Site => "site".into(),
        TemplateScope::Domain(d) => format!("domain {d}"),
        TemplateScope::List(l) => format!("list {l}"),
    }
}

/// Runs one `mailcast templates` command.
pub async fn run(settings: Settings, cmd: TemplatesCommand) -> anyhow::Result<()> {
    let admin = super::open_admin(settings).await?;
    match cmd {
        TemplatesCommand::Set {
            name,
            source,
            text,
            scope: s,
        } => {
            let scope = scope(&s)?;
            let source = match (source, text) {
                (_, Some(text)) => Source::Text(text),
                (Some(location), None) => Source::from_location(location, None),
                (None, None) => anyhow::bail!("give a file or --text"),
            };
            admin.set_template(&scope, &name, source).await?;
            println!("set {name} for the {}", scope_name(&scope));
        }
        TemplatesCommand::Show { name, scope: s } => {
            let scope = scope(&s)?;
            match admin.template(&scope, &name).await? {
                Some(record) => print!("{}", record.text),
                None => print!("{}", templates::default_text(&name).unwrap_or_default()),
            }
        }
        TemplatesCommand::List { scope: s, names } => {
            if names {
                for name in templates::NAMES {
                    println!("{name}");
                }
            } else {
                let scope = (s.list.is_some() || s.domain.is_some())
                    .then(|| scope(&s))
                    .transpose()?;
                for r in admin.templates(scope.as_ref()).await? {
                    println!("{}\t{}\t{}", scope_name(&r.scope), r.name, r.uri);
                }
            }
        }
        TemplatesCommand::Remove { name, scope: s } => {
            let scope = scope(&s)?;
            if !admin.remove_template(&scope, &name).await? {
                anyhow::bail!("no override of {name} for the {}", scope_name(&scope));
            }
            println!(
                "removed the override of {name} for the {}",
                scope_name(&scope)
            );
        }
    }
    admin.store.close().await;
    Ok(())
}
