//! Test helpers: a tiny HTTP/1.1 file server on 127.0.0.1 whose routes can
//! 404, cut the connection mid-body, honour `Range`, or trickle slowly.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

#[derive(Clone)]
pub enum Route {
    /// Serve these bytes (honours `Range: bytes=N-`).
    File(Vec<u8>),
    /// The first request gets the full Content-Length but only `cut_at`
    /// bytes before the connection closes; later requests are served.
    CutOnce { data: Vec<u8>, cut_at: usize },
    /// Serve in `chunk`-byte pieces with `delay` between them.
    Slow { data: Vec<u8>, chunk: usize, delay: Duration },
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub range: Option<String>,
    pub status: u16,
}

pub struct Server {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    pub log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let cut_done: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let (r, c, l) = (routes.clone(), cut_done.clone(), log.clone());
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (r, c, l) = (r.clone(), c.clone(), l.clone());
                thread::spawn(move || {
                    let _ = handle(stream, &r, &c, &l);
                });
            }
        });
        Server { base, routes, log }
    }

    pub fn route(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

fn handle(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    cut_done: &Mutex<HashMap<String, bool>>,
    log: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("range") {
                range = Some(v.trim().to_string());
            }
        }
    }
    let route = routes.lock().unwrap().get(&path).cloned();
    let Some(route) = route else {
        log.lock().unwrap().push(Request { path, range, status: 404 });
        stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    };
    let (data, cut, slow) = match &route {
        Route::File(d) => (d.clone(), None, None),
        Route::CutOnce { data, cut_at } => {
            let first = !cut_done.lock().unwrap().insert(path.clone(), true).unwrap_or(false);
            (data.clone(), first.then_some(*cut_at), None)
        }
        Route::Slow { data, chunk, delay } => (data.clone(), None, Some((*chunk, *delay))),
    };
    let start = range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|&n| n <= data.len());
    let (status, body) = match start {
        Some(n) => (206, &data[n..]),
        None => (200, &data[..]),
    };
    log.lock().unwrap().push(Request {
        path,
        range: range.clone(),
        status,
    });
    let mut head = if status == 206 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {}-{}/{}\r\n",
            start.unwrap(),
            data.len().saturating_sub(1),
            data.len()
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    head.push_str(&format!(
        "Content-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    stream.write_all(head.as_bytes())?;
    if let Some(cut) = cut {
        stream.write_all(&body[..cut.min(body.len())])?;
        stream.flush()?;
        let _ = stream.shutdown(std::net::Shutdown::Both);
        return Ok(());
    }
    match slow {
        Some((chunk, delay)) => {
            for piece in body.chunks(chunk) {
                stream.write_all(piece)?;
                stream.flush()?;
                thread::sleep(delay);
            }
        }
        None => stream.write_all(body)?,
    }
    Ok(())
}

/// Deterministic pseudo-random bytes.
pub fn bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
