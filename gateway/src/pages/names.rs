//! Identities as pages show them: the display name the identity signed in its profile
//! (else its record's name), with its id beside it, shortened and linked. A name is a
//! claim (two identities may sign the same one); the id is the proof, so it is always
//! shown. Names are untrusted text: escaped by maud, hidden characters written out
//! ([`shown_name`]), and isolated in `<bdi>` so right-to-left text cannot reorder what
//! stands around it.

use std::collections::HashMap;

use feeds::IdentityKey;
use feeds::extension::Profile;
use maud::{Markup, html};
use seeder::node::api::is_avatar_image;

use super::layout::shown_name;
use crate::{Gateway, links};

/// Characters of an id shown beside a name (its link and title carry it whole).
const SHORT_ID_CHARS: usize = 12;

/// `name (id…)` with the id linked to the identity's page (whole in its title); the short
/// id alone when there is no name.
pub fn identity_label(key: &IdentityKey, name: Option<&str>) -> Markup {
    let id = key.to_string();
    html! {
        @match name {
            Some(name) => {
                bdi.name { (shown_name(name)) } " "
                a.id href=(links::identity(key)) title=(id) { "(" (short_id(&id)) ")" }
            },
            None => a.id href=(links::identity(key)) title=(id) { (short_id(&id)) },
        }
    }
}

/// The first characters of an id, ending in "…".
pub fn short_id(id: &str) -> String {
    match id.char_indices().nth(SHORT_ID_CHARS) {
        Some((at, _)) => format!("{}…", &id[..at]),
        None => id.to_owned(),
    }
}

/// A bio: each line isolated and shown as [`shown_name`] shows names.
pub fn bio(text: &str) -> Markup {
    html! {
        p.bio {
            @for (i, line) in text.lines().enumerate() {
                @if i > 0 { br; }
                bdi { (shown_name(line)) }
            }
        }
    }
}

impl Gateway {
    /// The display names of `keys` known here, by id (an identity without one is absent).
    pub(crate) async fn display_names(&self, mut ids: Vec<String>) -> HashMap<String, String> {
        ids.sort_unstable();
        ids.dedup();
        let mut names = HashMap::new();
        for id in ids {
            let Ok(key) = id.parse::<IdentityKey>() else {
                continue;
            };
            if let Ok(Some(name)) = self.node.display_name(&key).await {
                names.insert(id, name);
            }
        }
        names
    }

    /// The avatar's path on this gateway, when the profile names one and this node holds
    /// its torrent complete with that file, and the file is an image (SVG excepted: it can
    /// carry script when opened on its own).
    pub(crate) async fn avatar_href(&self, profile: &Profile) -> Option<String> {
        let (infohash, path) = profile.avatar.as_ref()?;
        let held = self.node.held_torrent(infohash).await.ok()?;
        if held.torrent.state.error.is_some() || !held.torrent.state.complete {
            return None;
        }
        let file = match path.is_empty() {
            true if held.files.len() == 1 => held.files.first()?,
            true => return None,
            false => held.file(&path.join("/")).ok()?,
        };
        is_avatar_image(&file.path).then(|| links::file(infohash, &file.path))
    }
}
