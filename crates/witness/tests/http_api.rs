//! The HTTP surface: statuses, the 409 body and content type, the body bound, and the
//! monitoring read path, over a real socket on 127.0.0.1.

mod common;

use std::sync::Arc;

use chainseal_tlog::witness_protocol::parse_size_body;
use chainseal_witness::http::{MAX_BODY, serve};
use common::*;
use sha2::Digest;

async fn start(dir: &std::path::Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let w = Arc::new(witness(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, w, async {
        let _ = rx.await;
    }));
    (url, tx)
}

#[tokio::test]
async fn speaks_the_tlog_witness_http_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let (url, stop) = start(dir.path()).await;
    let c = reqwest::Client::new();
    let post = |b: Vec<u8>| c.post(format!("{url}/add-checkpoint")).body(b).send();

    let r = post(body(0, vec![], checkpoint(8))).await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.starts_with("\u{2014} witness.test/w1 ") && text.ends_with('\n'));

    // 409: body is the stored size, content type text/x.tlog.size.
    let r = post(body(0, vec![], checkpoint(8))).await.unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(parse_size_body(&r.bytes().await.unwrap()).unwrap(), 8);

    // 400 old > new, with a reason.
    let r = post(body(15, vec![], checkpoint(12))).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("old size 15"));

    // 422 bad proof.
    let r = post(body(8, vec![[1u8; 32]; 3], checkpoint(15)))
        .await
        .unwrap();
    assert_eq!(r.status(), 422);

    // 200 for the honest extension.
    let r = post(body(8, proof(8, 15), checkpoint(15))).await.unwrap();
    assert_eq!(r.status(), 200);

    // Oversized body: refused before parsing.
    let r = post(vec![b'a'; MAX_BODY + 1]).await.unwrap();
    assert_eq!(r.status(), 413);

    // Monitoring read path: the latest cosigned checkpoint, at both spellings.
    let id = hex::encode(sha2::Sha256::digest(b"example.com/log/testdata"));
    for path in [format!("checkpoint/{id}"), format!("{id}/checkpoint")] {
        let r = c.get(format!("{url}/{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let note = r.text().await.unwrap();
        assert!(note.starts_with("example.com/log/testdata\n15\n"));
        assert!(note.contains("\u{2014} witness.test/w1 "));
    }
    let r = c
        .get(format!("{url}/checkpoint/{}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(format!("{url}/checkpoint/xyz")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let _ = stop.send(());
}
