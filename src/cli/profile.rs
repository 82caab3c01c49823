//! `swarmfeed identity profile`: the identity's public profile (display name, bio, avatar),
//! signed as the `profile` extension of its identity record (docs/cli.md). With a node
//! running on the data directory the node signs it (`POST /profile` on the control
//! socket) and puts it into the DHT at once; without one it is signed here, and the node
//! takes it in at its next start.

use std::path::Path;

use clap::Args;
use data_dir::DataDir;
use feeds::extension::read_profile;
use publisher::profile::{ProfileChange, current_item, set_profile};
use seeder::node::api::{ProfileAnswer, ProfileRequest};

use super::InputError;

#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// The identity [default: the default identity].
    #[arg(long, value_name = "NAME")]
    identity: Option<String>,
    /// The display name (UTF-8, at most 64 bytes, no control or bidirectional characters).
    #[arg(long)]
    name: Option<String>,
    /// A short bio (at most 500 bytes; line breaks allowed).
    #[arg(long)]
    bio: Option<String>,
    /// The avatar: an image file in one of the identity's torrents, INFOHASH[/path/in/torrent].
    #[arg(long, value_name = "INFOHASH[/PATH]")]
    avatar: Option<String>,
    #[arg(long, conflicts_with = "name")]
    clear_name: bool,
    #[arg(long, conflicts_with = "bio")]
    clear_bio: bool,
    #[arg(long, conflicts_with = "avatar")]
    clear_avatar: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Without a change, prints the profile as signed now; with one, signs the next version.
pub fn profile(args: ProfileArgs, data: &Path) -> anyhow::Result<()> {
    let change = ProfileChange {
        name: args.name,
        bio: args.bio,
        avatar: args.avatar,
        clear_name: args.clear_name,
        clear_bio: args.clear_bio,
        clear_avatar: args.clear_avatar,
    };
    let answer = if change == ProfileChange::default() {
        show(data, args.identity.as_deref())?
    } else if let Some(client) = super::node::control(data) {
        let request = ProfileRequest {
            identity: args.identity,
            change,
        };
        client.profile(&request)?
    } else {
        let data = DataDir::new(data);
        let (_, keypair) = data.keystore().resolve(args.identity.as_deref())?;
        let signed = set_profile(&data, &keypair, &change, None)?;
        ProfileAnswer::new(&keypair.public(), signed.item.seq(), &signed.profile)
    };
    if args.json {
        println!("{}", serde_json::to_string(&answer)?);
        return Ok(());
    }
    println!("id: {}", answer.identity);
    println!("seq: {}", answer.seq);
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("name: {}", shown(&answer.name));
    println!("bio: {}", shown(&answer.bio));
    println!("avatar: {}", shown(&answer.avatar));
    Ok(())
}

fn show(data: &Path, identity: Option<&str>) -> anyhow::Result<ProfileAnswer> {
    let data = DataDir::new(data);
    let identity = match identity {
        Some(name) => data.keystore().get(name)?.public,
        None => {
            let (name, _) = data.keystore().resolve(None)?;
            data.keystore().get(&name)?.public
        }
    };
    let Some(item) = current_item(&data, &identity)? else {
        return Err(InputError(format!(
            "identity {identity} has no profile yet (set one with --name, --bio or --avatar)"
        ))
        .into());
    };
    let profile = read_profile(&item)?.unwrap_or_default();
    Ok(ProfileAnswer::new(&identity, item.seq(), &profile))
}
