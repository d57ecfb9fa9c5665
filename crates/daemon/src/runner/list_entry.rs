//! Reading a spool entry addressed to one list (command and bounce mail): the envelope, the
//! message and the list's pipeline context, or the fact that the list is gone.

use std::sync::Arc;

use mailcast_model::ListAddress;
use mailcast_pipeline::ListContext;
use mailcast_spool::{EntryId, EntryMeta, Stage};
use tracing::Span;

use super::RunnerContext;
use super::failure::Unprocessable;
use crate::admin::AdminError;

/// An entry and its list.
pub(crate) struct ListEntry {
    pub(crate) meta: EntryMeta,
    pub(crate) body: Vec<u8>,
    pub(crate) list: ListAddress,
    /// `None` when the list no longer exists.
    pub(crate) list_ctx: Option<Arc<ListContext>>,
}

/// Reads entry `id` of `stage` and looks up its list; records the list in the current span.
/// An envelope naming no valid list address is unprocessable.
pub(crate) async fn read(
    ctx: &RunnerContext,
    stage: Stage,
    id: &EntryId,
) -> anyhow::Result<ListEntry> {
    let read_id = id.clone();
    let (meta, body) = ctx
        .on_spool(move |spool| spool.read_entry(stage, &read_id))
        .await?;
    Span::current().record("list", meta.list.as_str());
    let list = ListAddress::parse(&meta.list)
        .map_err(|e| Unprocessable::error(format!("bad list address {:?}: {e}", meta.list)))?;
    let list_ctx = match ctx.admin().list_context(&list).await {
        Ok(list_ctx) => Some(list_ctx),
        Err(AdminError::NoSuchList(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(ListEntry {
        meta,
        body,
        list,
        list_ctx,
    })
}
