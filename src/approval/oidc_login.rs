//! `gatekeep login --server URL --oidc`: a person at a terminal signs in at the
//! organisation's identity provider *through* the approval service (which holds the client
//! secret) and gets an approver session, stored like any token (see [`super::credentials`]).
//!
//! The device authorization grant (RFC 8628) first: the service starts it at the provider,
//! this prints the user code and the URL to open anywhere, and polls the service at the
//! provider's interval (longer after a `slow_down`) until the person finishes, denies, or
//! the code expires. Where the provider has no device endpoint (or with `--no-device`), a
//! loopback redirect (RFC 8252): this listens on `127.0.0.1:0`, prints the service's login
//! URL (and opens it with `$BROWSER` when that is set), and the browser comes back to the
//! listener with a one-time code. Either way the sign-in is bound to this process by a
//! verifier it never sends until the end, whose S256 challenge started it.
//!
//! The wire bodies are in [`crate::api::cli_login`]. Blocking, like the rest of the client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::api::cli_login::{
    self as wire, CliSession, DevicePoll, DevicePolled, DeviceStart, DeviceStarted,
    LoopbackExchange, LoopbackStart, LoopbackStarted, PollStatus,
};
use crate::api::verdict::random_b64;
use crate::env_vars;
use crate::render::Safe;

use super::remote::{Client, RemoteError};

/// How long the person has to finish in the browser (the service keeps a sign-in as long).
const LOOPBACK_WAIT: Duration = Duration::from_secs(600);

/// How to sign in.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip the device flow: loopback redirect only.
    pub no_device: bool,
    /// Ask the provider for a sign-in no older than this (step-up, `max_age`).
    pub max_age: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Remote(#[from] RemoteError),
    #[error("the sign-in was denied at the identity provider")]
    Denied,
    #[error(
        "the sign-in expired before it was finished\nhint: run `gatekeep login --server URL --oidc` again and finish within {0} s"
    )]
    Expired(u64),
    #[error("cannot listen on a loopback port for the browser's return: {0}")]
    Listen(String),
    #[error("no randomness: {0}")]
    Random(String),
    /// The service refused the person after the provider signed them in.
    #[error("the sign-in was refused: {0}")]
    Refused(String),
}

/// What came back to the loopback listener.
enum Returned {
    Code(String),
    Refused(String),
    /// Not the sign-in's return (a favicon, a probe): keep listening.
    Other,
}

/// Signs in through the service behind `client` (which has no token); returns the session.
pub fn sign_in(client: &Client, options: &Options) -> Result<CliSession, SignInError> {
    let verifier = random_b64(32).map_err(|e| SignInError::Random(e.to_string()))?;
    let challenge = wire::challenge(&verifier);
    if !options.no_device {
        let start = DeviceStart {
            code_challenge: challenge.clone(),
            max_age: options.max_age,
        };
        match client.call::<DeviceStarted>("POST", wire::DEVICE, Some(&start)) {
            Ok(started) => return device(client, &started, &verifier),
            // No device endpoint at the provider: the browser way.
            Err(RemoteError::Refused { status: 501, .. }) => {
                eprintln!(
                    "gatekeep: the identity provider has no device sign-in; signing in through a browser instead"
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    loopback(client, &challenge, &verifier, options.max_age)
}

fn device(
    client: &Client,
    started: &DeviceStarted,
    verifier: &str,
) -> Result<CliSession, SignInError> {
    match &started.verification_uri_complete {
        Some(complete) => eprintln!(
            "gatekeep: to sign in, open {}\ngatekeep:   or open {} and enter the code {}",
            Safe(complete),
            Safe(&started.verification_uri),
            Safe(&started.user_code)
        ),
        None => eprintln!(
            "gatekeep: to sign in, open {} and enter the code {}",
            Safe(&started.verification_uri),
            Safe(&started.user_code)
        ),
    }
    let deadline = Instant::now() + Duration::from_secs(started.expires_in);
    let mut interval = started.interval.max(1);
    let poll = DevicePoll {
        handle: started.handle.clone(),
        code_verifier: verifier.to_owned(),
    };
    loop {
        let wait = Duration::from_secs(interval);
        if Instant::now() + wait > deadline {
            return Err(SignInError::Expired(started.expires_in));
        }
        std::thread::sleep(wait);
        match client.call::<DevicePolled>("POST", wire::DEVICE_TOKEN, Some(&poll)) {
            Ok(DevicePolled {
                status: PollStatus::Done,
                session: Some(session),
                ..
            }) => return Ok(session),
            Ok(DevicePolled {
                status: PollStatus::Done,
                session: None,
                ..
            }) => {
                return Err(RemoteError::Protocol(
                    "the service said the sign-in was done but sent no session".into(),
                )
                .into());
            }
            Ok(answer) => interval = answer.interval.max(interval).max(1),
            Err(RemoteError::Refused {
                status: 403,
                message,
            }) if message.contains("denied at the identity provider") => {
                return Err(SignInError::Denied);
            }
            Err(RemoteError::Refused { status: 410, .. }) => {
                return Err(SignInError::Expired(started.expires_in));
            }
            // The provider or the connection failed once: poll again.
            Err(RemoteError::Refused { status: 502, .. } | RemoteError::Unreachable { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn loopback(
    client: &Client,
    challenge: &str,
    verifier: &str,
    max_age: Option<u64>,
) -> Result<CliSession, SignInError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| SignInError::Listen(e.to_string()))?;
    let port = listener
        .local_addr()
        .map_err(|e| SignInError::Listen(e.to_string()))?
        .port();
    // A path of our own: a request for anything else (a favicon, a probe) is not the return.
    let state = random_b64(16).map_err(|e| SignInError::Random(e.to_string()))?;
    let path = format!("/gatekeep-login/{state}");
    let start = LoopbackStart {
        redirect_uri: format!("http://127.0.0.1:{port}{path}"),
        code_challenge: challenge.to_owned(),
        max_age,
    };
    let started: LoopbackStarted = client.call("POST", wire::LOOPBACK, Some(&start))?;
    eprintln!(
        "gatekeep: to sign in, open this URL in a browser on this machine:\n  {}",
        Safe(&started.url)
    );
    if let Some(browser) = std::env::var_os(env_vars::BROWSER).filter(|b| !b.is_empty()) {
        // Best effort: the URL is printed either way.
        let _ = std::process::Command::new(browser)
            .arg(&started.url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
    let code = wait_for_code(&listener, &path)?;
    let exchange = LoopbackExchange {
        code,
        code_verifier: verifier.to_owned(),
    };
    Ok(client.call("POST", wire::LOOPBACK_TOKEN, Some(&exchange))?)
}

/// Waits for the browser's `GET PATH?code=...`; answers it (and anything else) with a short
/// plain-text page.
fn wait_for_code(listener: &TcpListener, path: &str) -> Result<String, SignInError> {
    listener
        .set_nonblocking(true)
        .map_err(|e| SignInError::Listen(e.to_string()))?;
    let deadline = Instant::now() + LOOPBACK_WAIT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => match answer_browser(stream, path) {
                Returned::Code(code) => return Ok(code),
                Returned::Refused(why) => return Err(SignInError::Refused(why)),
                Returned::Other => {}
            },
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(SignInError::Listen(e.to_string())),
        }
    }
    Err(SignInError::Expired(LOOPBACK_WAIT.as_secs()))
}

/// Reads one request: the code, or the refusal, when it is the return to `path`.
fn answer_browser(mut stream: TcpStream, path: &str) -> Returned {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let target = head
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("GET "))
        .and_then(|l| l.split(' ').next())
        .unwrap_or("");
    let (got_path, query) = target.split_once('?').unwrap_or((target, ""));
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
            .filter(|v| !v.is_empty())
            .map(percent_decode)
    };
    let returned = if got_path != path {
        Returned::Other
    } else if let Some(code) = param("code") {
        Returned::Code(code)
    } else if let Some(error) = param("error") {
        Returned::Refused(param("error_description").unwrap_or(error))
    } else {
        Returned::Other
    };
    let (status, body) = match returned {
        Returned::Code(_) => ("200 OK", "gatekeep: signed in; you can close this tab.\n"),
        Returned::Refused(_) => (
            "403 Forbidden",
            "gatekeep: the sign-in was refused; the terminal says why.\n",
        ),
        Returned::Other => ("404 Not Found", "not the gatekeep sign-in\n"),
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncache-control: no-store\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    returned
}

/// Decodes a query value (`+` is a space, `%XX` a byte); what is not valid UTF-8 after it
/// is replaced.
fn percent_decode(text: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                (Some(high), Some(low)) => {
                    // Two hex digits make one byte (high * 16 + low is below 256).
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn query_values_are_percent_decoded() {
        assert_eq!(
            super::percent_decode("a+b%20c%2Cd%e2%80%94%zz%"),
            "a b c,d\u{2014}%zz%"
        );
    }
}
