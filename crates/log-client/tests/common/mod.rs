//! Test servers on 127.0.0.1:0: a static tlog-tiles server over a directory (read in
//! place) with in-memory overrides, and the Tessera testdata log's paths and keys.
#![allow(dead_code, unused_imports)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chainseal_tlog::keys::Ed25519Signer;

pub use chainseal_testkit::tessera::{tessera_dir, tessera_entries, tessera_signer, tessera_vkey};

/// Files served: overrides first, then the directory (if any). `None` in overrides
/// hides a file (404).
#[derive(Default)]
pub struct Files {
    pub dir: Option<PathBuf>,
    pub overrides: Mutex<HashMap<String, Option<Vec<u8>>>>,
}

impl Files {
    pub fn set(&self, path: &str, data: Option<Vec<u8>>) {
        self.overrides.lock().unwrap().insert(path.to_owned(), data);
    }
}

async fn serve_file(State(files): State<Arc<Files>>, uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/').to_owned();
    if let Some(o) = files.overrides.lock().unwrap().get(&path) {
        return match o {
            Some(b) => (StatusCode::OK, b.clone()).into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        };
    }
    if path
        .split('/')
        .any(|c| c == ".." || c.is_empty() || c.starts_with('.'))
    {
        return StatusCode::NOT_FOUND.into_response();
    }
    match &files.dir {
        Some(d) => match std::fs::read(d.join(&path)) {
            Ok(b) => (StatusCode::OK, b).into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        },
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Starts a static server; returns its URL and the shared file table.
pub async fn static_server(dir: Option<PathBuf>) -> (String, Arc<Files>) {
    let files = Arc::new(Files {
        dir,
        overrides: Mutex::new(HashMap::new()),
    });
    let app = Router::new().fallback(serve_file).with_state(files.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, files)
}
