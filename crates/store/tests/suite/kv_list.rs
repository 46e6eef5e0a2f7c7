//! Listing: prefixes, order, pages and cursors.

use serde_json::{Value, json};
use store::{KvError, KvPage, KvQuery, SetOptions, Store};

use crate::harness::TestDb;

store_tests! {
    an_empty_store_lists_nothing,
    keys_list_in_code_point_order,
    pages_follow_each_other_through_cursors,
    a_full_last_page_has_no_cursor,
    prefixes_are_literal_not_patterns,
    unicode_prefixes_select_exactly_their_keys,
    limits_are_clamped,
    a_foreign_cursor_is_refused,
    a_prefix_with_nul_lists_nothing,
}

async fn set_all(store: &Store, keys: &[&str]) {
    for key in keys {
        store
            .kv_set(key, &json!(key), SetOptions::default())
            .await
            .unwrap();
    }
}

fn keys_of(page: &KvPage) -> Vec<&str> {
    page.items.iter().map(|(key, _)| key.as_str()).collect()
}

/// Every key under `prefix`, following cursors page by page.
async fn list_all(store: &Store, prefix: Option<&str>, limit: u32) -> Vec<String> {
    let mut keys = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .kv_list(KvQuery {
                prefix: prefix.map(str::to_string),
                limit,
                cursor,
            })
            .await
            .unwrap();
        assert!(page.items.len() <= limit as usize);
        for (key, value) in &page.items {
            assert_eq!(value, &Value::String(key.clone()));
        }
        keys.extend(page.items.into_iter().map(|(key, _)| key));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return keys,
        }
    }
}

async fn an_empty_store_lists_nothing(db: TestDb) {
    let page = db.store.kv_list(KvQuery::default()).await.unwrap();
    assert_eq!(
        page,
        KvPage {
            items: vec![],
            next_cursor: None
        }
    );
}

async fn keys_list_in_code_point_order(db: TestDb) {
    // Inserted out of order; byte-wise (code point) order puts capitals
    // first and non-ASCII last, unlike natural-language collations.
    set_all(
        &db.store,
        &[
            "b", "é", "B", "a b", "a", "😀", "日本", "a-b", "\u{E000}", "Z",
        ],
    )
    .await;
    let keys = list_all(&db.store, None, 100).await;
    assert_eq!(
        keys,
        [
            "B", "Z", "a", "a b", "a-b", "b", "é", "日本", "\u{E000}", "😀"
        ]
    );
}

async fn pages_follow_each_other_through_cursors(db: TestDb) {
    let mut keys: Vec<String> = (0..25).map(|i| format!("item:{i:02}")).collect();
    keys.push("other:1".to_string());
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    set_all(&db.store, &refs).await;

    let first = db
        .store
        .kv_list(KvQuery {
            prefix: Some("item:".into()),
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys_of(&first), refs[0..10]);
    let second = db
        .store
        .kv_list(KvQuery {
            prefix: Some("item:".into()),
            cursor: first.next_cursor.clone(),
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys_of(&second), refs[10..20]);
    let third = db
        .store
        .kv_list(KvQuery {
            prefix: Some("item:".into()),
            cursor: second.next_cursor.clone(),
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys_of(&third), refs[20..25]);
    assert_eq!(third.next_cursor, None);

    assert_eq!(list_all(&db.store, Some("item:"), 7).await, keys[..25]);
    assert_eq!(list_all(&db.store, None, 3).await, keys);
}

async fn a_full_last_page_has_no_cursor(db: TestDb) {
    set_all(&db.store, &["k1", "k2", "k3", "k4"]).await;
    let page = db
        .store
        .kv_list(KvQuery {
            limit: 4,
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys_of(&page), ["k1", "k2", "k3", "k4"]);
    assert_eq!(page.next_cursor, None);
}

async fn prefixes_are_literal_not_patterns(db: TestDb) {
    set_all(
        &db.store,
        &[
            "a", "a%", "a%b", "a&", "a_", "a_b", "a`", "aXb", "ab", "a\\", "a\\b", "b",
        ],
    )
    .await;
    assert_eq!(list_all(&db.store, Some("a%"), 2).await, ["a%", "a%b"]);
    assert_eq!(list_all(&db.store, Some("a_"), 2).await, ["a_", "a_b"]);
    assert_eq!(list_all(&db.store, Some("a\\"), 2).await, ["a\\", "a\\b"]);
    assert_eq!(
        list_all(&db.store, Some("%"), 2).await,
        Vec::<String>::new()
    );
    assert_eq!(list_all(&db.store, Some("a"), 5).await.len(), 11);
}

async fn unicode_prefixes_select_exactly_their_keys(db: TestDb) {
    set_all(
        &db.store,
        &[
            "é",
            "éa",
            "éé",
            "f",
            "日本",
            "日本語",
            "日",
            "😀",
            "😀😀",
            "\u{D7FF}z",
            "\u{E000}",
            "\u{10FFFF}",
            "\u{10FFFF}x",
        ],
    )
    .await;
    assert_eq!(list_all(&db.store, Some("é"), 2).await, ["é", "éa", "éé"]);
    assert_eq!(
        list_all(&db.store, Some("日本"), 2).await,
        ["日本", "日本語"]
    );
    assert_eq!(list_all(&db.store, Some("😀"), 1).await, ["😀", "😀😀"]);
    // The character after U+D7FF is U+E000 (surrogates are not characters).
    assert_eq!(
        list_all(&db.store, Some("\u{D7FF}"), 2).await,
        ["\u{D7FF}z"]
    );
    // No string is greater than every one starting with the last character.
    assert_eq!(
        list_all(&db.store, Some("\u{10FFFF}"), 2).await,
        ["\u{10FFFF}", "\u{10FFFF}x"]
    );
}

async fn limits_are_clamped(db: TestDb) {
    let keys: Vec<String> = (0..150).map(|i| format!("k{i:03}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    db.store
        .kv_batch_set(
            refs.iter()
                .map(|key| store::KvItem {
                    key: key.to_string(),
                    value: json!(key),
                    ttl: None,
                })
                .collect(),
        )
        .await
        .unwrap();
    let huge = db
        .store
        .kv_list(KvQuery {
            limit: 1000,
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(huge.items.len(), 100);
    assert!(huge.next_cursor.is_some());
    let zero = db
        .store
        .kv_list(KvQuery {
            limit: 0,
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(keys_of(&zero), ["k000"]);
}

async fn a_foreign_cursor_is_refused(db: TestDb) {
    for cursor in ["not base64!", "_w", ""] {
        let result = db
            .store
            .kv_list(KvQuery {
                cursor: Some(cursor.into()),
                ..KvQuery::default()
            })
            .await;
        assert!(
            matches!(result, Err(KvError::InvalidCursor)),
            "{cursor:?}: {result:?}"
        );
    }
}

async fn a_prefix_with_nul_lists_nothing(db: TestDb) {
    set_all(&db.store, &["a"]).await;
    let page = db
        .store
        .kv_list(KvQuery {
            prefix: Some("a\0".into()),
            ..KvQuery::default()
        })
        .await
        .unwrap();
    assert!(page.items.is_empty());
}
