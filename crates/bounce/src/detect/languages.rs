//! The common non-English reports: German, French, Spanish, Italian, Portuguese, Dutch and
//! Polish intros, each followed by a recipient list read as in [`super::simple`].
//!
//! | Language | Intros (case-insensitive; the list must follow) |
//! |---|---|
//! | German | `Diese Nachricht konnte nicht zugestellt werden`, `konnte nicht an folgende Empfänger zugestellt werden`, `Zustellung an folgende Empfänger fehlgeschlagen`, `Die Zustellung an diese Empfänger oder Gruppen ist fehlgeschlagen` |
//! | French | `n'a pas pu être remis` / `distribué` / `délivré`, `La remise a échoué pour ces destinataires ou groupes`, `impossible de remettre le message` |
//! | Spanish | `no se pudo entregar`, `no se ha podido entregar`, `no pudo ser entregado`, `Error en la entrega a estos destinatarios o grupos` |
//! | Italian | `non è stato possibile recapitare` / `consegnare`, `impossibile recapitare`, `Recapito non riuscito a questi destinatari o gruppi` |
//! | Portuguese | `não pôde ser entregue`, `não foi possível entregar`, `A entrega falhou para estes destinatários ou grupos` |
//! | Dutch | `kon niet worden bezorgd` / `afgeleverd`, `kan niet worden bezorgd`, `Bezorging is mislukt voor deze geadresseerden of groepen` |
//! | Polish | `nie mogła zostać dostarczona`, `nie można dostarczyć`, `nie została dostarczona`, `Dostarczanie do tych adresatów lub grup nie powiodło się` |
//!
//! The intro may end its sentence before the list ("Diese Nachricht konnte nicht zugestellt
//! werden an die folgenden Empfänger:"); the list reader allows a few lines of prose before
//! the first address and none after a blank line.

use super::Detector;
use super::simple::read;
use crate::report::Format;

/// The non-English detector.
pub(crate) const DETECTOR: Detector = Detector {
    format: Format::SimpleText,
    intro: concat!(
        // German
        r"konnte nicht (?:an (?:die |den )?folgenden? empfänger )?zugestellt werden",
        r"|zustellung an (?:die )?folgenden? empfänger (?:ist )?fehlgeschlagen",
        r"|zustellung an diese empfänger oder gruppen ist fehlgeschlagen",
        // French
        r"|n['’]a pas pu être (?:remis|distribué|délivré)",
        r"|la remise a échoué pour (?:ces|les) destinataires",
        r"|impossible de (?:remettre|distribuer) (?:le|votre) message",
        // Spanish
        r"|no se (?:ha )?pudo entregar|no se ha podido entregar|no pudo ser entregado",
        r"|error en la entrega a (?:estos|los siguientes) destinatarios",
        // Italian
        r"|non è stato possibile (?:recapitare|consegnare)|impossibile recapitare",
        r"|recapito non riuscito a (?:questi|i seguenti) destinatari",
        // Portuguese
        r"|não (?:pôde|pode) ser entregue|não foi possível entregar",
        r"|a entrega falhou para (?:estes|os seguintes) destinatários",
        // Dutch
        r"|kon niet (?:worden )?(?:bezorgd|afgeleverd)|kan niet worden (?:bezorgd|afgeleverd)",
        r"|bezorging is mislukt voor (?:deze|de volgende) geadresseerden",
        // Polish
        r"|nie (?:mogła|mógł|może) (?:zostać|być) dostarczon[aey]|nie można dostarczyć",
        r"|nie została dostarczona|dostarczanie do (?:tych|następujących) adresatów",
    ),
    read,
};
