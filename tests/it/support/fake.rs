//! A fake approval service for the attacks on the client: an HTTP/1.1 server on 127.0.0.1
//! that answers each request from a handler the test gives (one request per connection,
//! just enough HTTP for `login` and `exec`), and the request view such a service returns.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gatekeep::api::protocol::{CreateRequest, Identity, RequestView, Role, State};
use gatekeep::api::verdict::JwkSet;
use serde_json::{Value, json};

/// One request as the fake read it.
pub struct Call {
    pub method: String,
    /// The path without its query.
    pub path: String,
    pub body: Vec<u8>,
}

/// Answers a call: the status, and the JSON body (none: an empty body).
pub type Handler = dyn Fn(&Call) -> (u16, Option<Value>) + Send + Sync;

/// The fake service; it stops accepting when dropped.
pub struct FakeHttp {
    pub url: String,
    /// `METHOD path` of every call, in order.
    calls: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl FakeHttp {
    pub fn start(handler: Arc<Handler>) -> FakeHttp {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (calls, stop) = (calls.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (calls, handler) = (calls.clone(), handler.clone());
                    std::thread::spawn(move || {
                        let _ = serve(stream, &calls, &*handler);
                    });
                }
            });
        }
        FakeHttp { url, calls, stop }
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    pub fn clear_calls(&self) {
        self.calls.lock().unwrap().clear();
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// Answers one HTTP/1.1 request and closes the connection.
fn serve(stream: TcpStream, calls: &Mutex<Vec<String>>, handler: &Handler) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut words = line.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let target = words.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default().to_owned();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    calls.lock().unwrap().push(format!("{method} {path}"));
    let (status, reply) = handler(&Call { method, path, body });
    let reply = reply.map(|v| v.to_string()).unwrap_or_default();
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
        reply.len()
    )?;
    stream.flush()
}

/// The view a service returns of request `create` in `state`, requested by `ci-bot`,
/// expiring in a minute.
pub fn view(
    create: &CreateRequest,
    state: State,
    verdict: Option<String>,
    checkpoint: Option<String>,
) -> Value {
    let now = gatekeep::api::verdict::unix_now();
    serde_json::to_value(RequestView {
        id: create.id.clone(),
        state,
        command: gatekeep::api::protocol::display_argv(&create.ask.argv),
        ask: create.ask.clone(),
        requester: "ci-bot".into(),
        on_behalf_of: None,
        created_at: "2026-12-05T00:00:00.000Z".into(),
        expires_at: "2026-12-05T00:01:00.000Z".into(),
        expires_unix: now + 60,
        approvals: Vec::new(),
        verdict,
        outcome: None,
        checkpoint,
    })
    .unwrap()
}

/// What a fake service answers a requester (`ci-bot`): `jwks` for its keys, the create
/// remembered in `created`, and that request approved with the verdict `verdict` makes of it
/// (no verdict: `None`); outcomes taken, cancels answered.
pub fn requester_route(
    call: &Call,
    jwks: &JwkSet,
    created: &Mutex<Option<CreateRequest>>,
    verdict: impl FnOnce(&CreateRequest) -> Option<String>,
) -> (u16, Option<Value>) {
    let made = created.lock().unwrap().clone();
    let missing = || (404, Some(json!({"error": "no such request"})));
    match (call.method.as_str(), call.path.as_str()) {
        ("GET", "/.well-known/jwks.json") => (200, Some(serde_json::to_value(jwks).unwrap())),
        ("GET", "/v1/whoami") => (
            200,
            Some(
                serde_json::to_value(Identity {
                    name: "ci-bot".into(),
                    role: Role::Requester,
                    groups: Vec::new(),
                    on_behalf_of: None,
                })
                .unwrap(),
            ),
        ),
        ("POST", "/v1/requests") => {
            let create: CreateRequest = serde_json::from_slice(&call.body).unwrap();
            let reply = view(&create, State::Pending, None, None);
            *created.lock().unwrap() = Some(create);
            (201, Some(reply))
        }
        ("GET", p) if p.starts_with("/v1/requests/") => match made {
            Some(c) => {
                let jws = verdict(&c);
                (200, Some(view(&c, State::Approved, jws, None)))
            }
            None => missing(),
        },
        ("POST", p) if p.ends_with("/outcome") => (204, None),
        ("POST", p) if p.ends_with("/cancel") => match made {
            Some(c) => (200, Some(view(&c, State::Cancelled, None, None))),
            None => missing(),
        },
        _ => (404, Some(json!({"error": "not found"}))),
    }
}
