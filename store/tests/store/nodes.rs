use super::*;

#[tokio::test]
async fn pushed_node_urls_are_capped_apart_and_asked_after_followers_and_nodes_that_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path()).await;
    let (alice, bob) = (Author::new(1, "main"), Author::new(2, "main"));
    let (key, feed) = (alice.key(), alice.feed.clone());
    let registered = store
        .register_follower("http://follower.example", &key, &feed, 64, 4096)
        .await
        .unwrap();
    assert_eq!(registered, store::Registered::New);
    store
        .note_pushed_node("http://pusher.example", &key, &feed, 16, 1024)
        .await
        .unwrap();
    store
        .node_answered("http://pusher.example", &key, &feed)
        .await
        .unwrap();
    // 300 junk URLs pushed for alice's feed, 300 for bob's: at most 16 each, 20 in all.
    for n in 0..300 {
        for (i, author) in [&alice, &bob].into_iter().enumerate() {
            let url = format!("http://junk{n}-{i}.example");
            store
                .note_pushed_node(&url, &author.key(), &author.feed, 16, 20)
                .await
                .unwrap();
        }
    }
    let serving = store.nodes_serving(&key, &feed, 100).await.unwrap();
    let urls: Vec<&str> = serving.iter().map(|n| n.url.as_str()).collect();
    // The follower and the pusher that answered first, whatever was pushed since.
    let mut first_two = urls[..2].to_vec();
    first_two.sort();
    assert_eq!(
        first_two,
        ["http://follower.example", "http://pusher.example"]
    );
    let junk = urls.iter().filter(|u| u.contains("junk")).count();
    assert!((1..=16).contains(&junk), "{urls:?}");
    let bob_junk = store
        .nodes_serving(&bob.key(), &bob.feed, 100)
        .await
        .unwrap()
        .len();
    assert!(junk + bob_junk <= 20, "{junk} + {bob_junk}");
    // Dropped junk leaves no node behind.
    let known = store.known_nodes(10_000).await.unwrap();
    assert_eq!(known.len(), 2 + junk + bob_junk, "{known:?}");
    // A pushed URL that registers is a follower like the others (counted and kept).
    let junk_url = urls
        .iter()
        .find(|u| u.contains("junk"))
        .unwrap()
        .to_string();
    store
        .register_follower(&junk_url, &key, &feed, 64, 4096)
        .await
        .unwrap();
    let serving = store.nodes_serving(&key, &feed, 3).await.unwrap();
    assert!(serving.iter().any(|n| n.url == junk_url), "{serving:?}");
}
