//! What the posting rules need, gathered once and cached: the pipeline's `ListContext` for
//! each list and the `SenderFacts` of each sender, both valid for one directory change counter.
//!
//! The LMTP server evaluates the posting chain at the end of data (to refuse early) and the
//! incoming runner evaluates it again; both come here. A `ListContext` compiles the list's
//! patterns and templates, so it is built once per list per change. Its header and footer are
//! the `list:member:regular:header`/`footer` template overrides in force for the list (its
//! own, its domain's, the site's: what Postorius edits), else the `header_text` and
//! `footer_text` settings. Sender facts cost one
//! indexed query per post; they are cached per (list, address) until the counter moves, which
//! is what makes a burst of posts from one sender cheap. Nothing here decides anything: the
//! pipeline does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use mailcast_model::settings::Text;
use mailcast_model::{EmailAddress, ListAddress, MemberRole};
use mailcast_pipeline::context::{ListContext, SenderFacts, SiteFacts};
use mailcast_store::Store;

use crate::config::ArchiverSettings;
use crate::directory::ListInfo;

/// The site facts from the configuration.
pub fn site_facts(settings: &crate::config::Settings) -> SiteFacts {
    SiteFacts {
        site_email: settings.site_owner.clone(),
        email_commands_max_lines: settings.site.email_commands_max_lines,
        ..SiteFacts::default()
    }
}

/// The template overrides that replace the `header_text` and `footer_text` settings.
const HEADER: &str = "list:member:regular:header";
const FOOTER: &str = "list:member:regular:footer";

/// Cached entries beyond this count are dropped wholesale (a crude but bounded cache).
const MAX_CACHED_FACTS: usize = 100_000;

/// Sender facts cached for one change counter, by list and lower-cased address.
struct FactsCache {
    counter: i64,
    entries: HashMap<(ListAddress, String), SenderFacts>,
}

/// Builds and caches pipeline inputs.
pub struct Posting {
    store: Store,
    site: SiteFacts,
    archivers: ArchiverSettings,
    contexts: Mutex<HashMap<ListAddress, (i64, Arc<ListContext>)>>,
    facts: Mutex<FactsCache>,
}

impl Posting {
    /// A cache over `store` with the site facts every list shares.
    pub fn new(store: Store, site: SiteFacts) -> Posting {
        Posting {
            store,
            site,
            archivers: ArchiverSettings::default(),
            contexts: Mutex::new(HashMap::new()),
            facts: Mutex::new(FactsCache {
                counter: -1,
                entries: HashMap::new(),
            }),
        }
    }

    /// A cache with the site facts and archivers of the configuration.
    pub fn for_settings(store: Store, settings: &crate::config::Settings) -> Posting {
        Posting {
            archivers: settings.archivers.clone(),
            ..Posting::new(store, site_facts(settings))
        }
    }

    /// The site facts.
    pub fn site(&self) -> &SiteFacts {
        &self.site
    }

    /// The pipeline context of a list at directory change counter `counter` (template changes
    /// move the counter too). A cache miss reads the list's decoration overrides.
    pub async fn context(
        &self,
        list: &ListInfo,
        counter: i64,
    ) -> Result<Arc<ListContext>, mailcast_store::Error> {
        {
            let map = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, ctx)) = map.get(&list.address)
                && *at == counter
            {
                return Ok(ctx.clone());
            }
        }
        let mut settings = list.settings.clone();
        let overrides = match self.store.templates_for_list(&list.address).await {
            Ok(records) => records,
            // Removed meanwhile: its settings are all there is.
            Err(mailcast_store::Error::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e),
        };
        for record in overrides {
            match record.name.as_str() {
                HEADER => settings.header_text = Text(record.text),
                FOOTER => settings.footer_text = Text(record.text),
                _ => {}
            }
        }
        let ctx =
            ListContext::new(list.address.clone(), settings, self.site.clone()).with_archivers(
                crate::archive::links(&self.archivers, &list.address.to_string(), &list.archivers),
            );
        for problem in ctx.problems() {
            tracing::warn!(list = %list.address, %problem, "ignoring a bad list setting");
        }
        let ctx = Arc::new(ctx);
        let mut map = self.contexts.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(list.address.clone(), (counter, ctx.clone()));
        Ok(ctx)
    }

    /// The facts about each of `senders` on `list`. Unknown or unparseable addresses become
    /// unknown non-members.
    pub async fn sender_facts(
        &self,
        list: &ListAddress,
        senders: &[String],
        counter: i64,
    ) -> anyhow::Result<Vec<SenderFacts>> {
        let mut out: Vec<Option<SenderFacts>> = Vec::with_capacity(senders.len());
        let mut missing: Vec<EmailAddress> = Vec::new();
        {
            let mut cache = self.facts.lock().unwrap_or_else(|p| p.into_inner());
            if cache.counter != counter || cache.entries.len() > MAX_CACHED_FACTS {
                *cache = FactsCache {
                    counter,
                    entries: HashMap::new(),
                };
            }
            for s in senders {
                let hit = cache.entries.get(&(list.clone(), s.clone())).cloned();
                if hit.is_none()
                    && let Ok(a) = EmailAddress::parse(s)
                {
                    missing.push(a);
                }
                out.push(hit);
            }
        }
        if !missing.is_empty() {
            let found = self.store.sender_facts(list, &missing).await?;
            let mut cache = self.facts.lock().unwrap_or_else(|p| p.into_inner());
            for f in found {
                let facts = convert(&f);
                if cache.counter == counter {
                    cache
                        .entries
                        .insert((list.clone(), facts.address.clone()), facts.clone());
                }
                for (slot, s) in out.iter_mut().zip(senders) {
                    if slot.is_none() && s.eq_ignore_ascii_case(&facts.address) {
                        *slot = Some(facts.clone());
                    }
                }
            }
        }
        Ok(out
            .into_iter()
            .zip(senders)
            .map(|(f, s)| f.unwrap_or_else(|| SenderFacts::unknown(s)))
            .collect())
    }
}

fn convert(f: &mailcast_store::SenderFacts) -> SenderFacts {
    SenderFacts {
        address: f.address.as_str().to_string(),
        roles: f.roles.iter().map(|r| r.role).collect::<Vec<MemberRole>>(),
        moderation_action: f.moderation_action(),
        banned: f.banned,
        member_of: Vec::new(),
    }
}
