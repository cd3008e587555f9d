//! A real OpenID provider for the tests: npm `oidc-provider` 9 run by node on 127.0.0.1
//! (the script is `tests/oidc/provider.mjs`), and a browser-less user agent that walks the
//! authorization code flow the way a browser does: it follows redirects, keeps cookies per
//! host and posts the provider's login form.
//!
//! The package is installed once per target directory, from `tests/oidc/package-lock.json`
//! with `npm ci`, into `CARGO_TARGET_TMPDIR/oidc-provider` (`.ci/run` installs node and
//! npm). A missing node or a failed install fails the test: it never skips.
//!
//! The provider's signing keys are made by `tests/oidc/keygen.mjs` and kept here too, so a
//! test can sign tokens that the provider's JWKS vouches for.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::service::{Pipe, STEP};

/// The provider's client secret for gatekeep.
pub const CLIENT_SECRET: &str = "test-client-secret-4f1e";

fn oidc_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

/// The `node_modules` holding `oidc-provider`, installed on first use.
fn modules() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let prefix = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oidc-provider");
    let modules = prefix.join("node_modules");
    let lock = std::fs::read(oidc_dir().join("package-lock.json")).unwrap();
    // Reinstalled when the committed lockfile changes.
    if modules.join("oidc-provider/package.json").exists()
        && std::fs::read(prefix.join("package-lock.json")).ok() == Some(lock.clone())
    {
        return modules;
    }
    std::fs::create_dir_all(&prefix).unwrap();
    std::fs::copy(oidc_dir().join("package.json"), prefix.join("package.json")).unwrap();
    std::fs::write(prefix.join("package-lock.json"), &lock).unwrap();
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .output()
        .unwrap_or_else(|e| {
            panic!("npm is needed for the OIDC tests (Debian: apt-get install nodejs npm): {e}")
        });
    assert!(
        out.status.success(),
        "npm ci of oidc-provider failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    modules
}

/// A signing key of the provider: its private JWK and the same key as PKCS#8 DER.
#[derive(Clone)]
pub struct Key {
    pub jwk: Value,
    pub pkcs8: Vec<u8>,
}

impl Key {
    pub fn new() -> Key {
        let out = Command::new("node")
            .arg(oidc_dir().join("keygen.mjs"))
            .output()
            .unwrap_or_else(|e| panic!("node is needed for the OIDC tests: {e}"));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let pkcs8 = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            v["pkcs8"].as_str().unwrap(),
        )
        .unwrap();
        Key {
            jwk: v["jwk"].clone(),
            pkcs8,
        }
    }

    pub fn kid(&self) -> String {
        self.jwk["kid"].as_str().unwrap().to_owned()
    }
}

/// A free loopback port (bound and released: the caller binds it next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The running provider; killed on drop.
pub struct Provider {
    dir: TempDir,
    child: Child,
    pub port: u16,
    pub issuer: String,
    redirect_uri: String,
    /// Whether it offers the device authorization grant.
    device: bool,
    /// Its keys, the signing one first.
    pub keys: Vec<Key>,
}

impl Provider {
    /// A provider whose client `gatekeep` returns to `redirect_uri`.
    pub fn start(redirect_uri: &str) -> Provider {
        Provider::start_offering(redirect_uri, true)
    }

    /// [`Provider::start`]; `device: false` turns the device flow off (no
    /// `device_authorization_endpoint` in its discovery).
    pub fn start_offering(redirect_uri: &str, device: bool) -> Provider {
        let modules = modules();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let keys = vec![Key::new()];
        let issuer = format!("http://127.0.0.1:{port}");
        let settings = dir.path().join("settings.json");
        write_settings(&settings, port, redirect_uri, device, &keys);
        let mut child = Command::new("node")
            .arg(oidc_dir().join("provider.mjs"))
            .arg(&settings)
            .arg(&modules)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("node is needed for the OIDC tests: {e}"));
        let log = Pipe::collect(child.stdout.take().unwrap());
        let warnings = Pipe::collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + STEP;
        while !log.text().contains("oidc-provider listening on") {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "the OIDC provider exited with {status}:\n{}{}",
                    log.text(),
                    warnings.text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the OIDC provider did not start: {}",
                warnings.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Provider {
            dir,
            child,
            port,
            issuer,
            redirect_uri: redirect_uri.to_owned(),
            device,
            keys,
        }
    }

    /// Rotates the provider's keys: a new key signs from now on, the old one is still
    /// published (as providers do during a rotation).
    pub fn rotate(&mut self) -> Key {
        let key = Key::new();
        self.keys.insert(0, key.clone());
        write_settings(
            &self.dir.path().join("settings.json"),
            self.port,
            &self.redirect_uri,
            self.device,
            &self.keys,
        );
        let answer = ureq::post(format!("{}/__test/reload", self.issuer))
            .send_empty()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 204);
        key
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_settings(path: &Path, port: u16, redirect_uri: &str, device: bool, keys: &[Key]) {
    let settings = json!({
        "port": port,
        "redirect_uri": redirect_uri,
        "device": device,
        "client_secret": CLIENT_SECRET,
        "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>(),
    });
    let mut file = std::fs::File::create(path).unwrap();
    file.write_all(settings.to_string().as_bytes()).unwrap();
}

/// One HTTP answer, as the user agent saw it.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

/// A browser without a screen: cookies per `host:port`, redirects followed by hand.
#[derive(Default)]
pub struct Browser {
    jar: HashMap<String, HashMap<String, String>>,
}

fn origin(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or_default().to_owned()
}

pub fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        let scheme = base.split_once("://").map_or("http", |(s, _)| s);
        format!("{scheme}://{}{location}", origin(base))
    }
}

impl Browser {
    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .build()
            .into()
    }

    fn cookie_header(&self, url: &str) -> Option<String> {
        let cookies = self.jar.get(&origin(url))?;
        (!cookies.is_empty()).then(|| {
            cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    fn keep(&mut self, url: &str, answer: &ureq::http::Response<ureq::Body>) -> Vec<String> {
        let mut raw = Vec::new();
        for value in answer.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap().to_owned();
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((name, v)) = pair.split_once('=') {
                let jar = self.jar.entry(origin(url)).or_default();
                if v.is_empty() || value.to_ascii_lowercase().contains("max-age=0") {
                    jar.remove(name.trim());
                } else {
                    jar.insert(name.trim().to_owned(), v.to_owned());
                }
            }
            raw.push(value);
        }
        raw
    }

    fn answer(&mut self, url: &str, answer: ureq::http::Response<ureq::Body>) -> Answer {
        let set_cookies = self.keep(url, &answer);
        let status = answer.status().as_u16();
        let location = answer
            .headers()
            .get("location")
            .map(|l| resolve(url, l.to_str().unwrap()));
        let body = answer.into_body().read_to_string().unwrap_or_default();
        Answer {
            status,
            location,
            set_cookies,
            body,
        }
    }

    pub fn get(&mut self, url: &str) -> Answer {
        let mut request = Self::agent().get(url);
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header("cookie", cookies);
        }
        let answer = request.call().unwrap();
        self.answer(url, answer)
    }

    pub fn post_form(&mut self, url: &str, form: &[(String, String)]) -> Answer {
        let mut request = Self::agent().post(url);
        if let Some(cookies) = self.cookie_header(url) {
            request = request.header("cookie", cookies);
        }
        let answer = request
            .send_form(form.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .unwrap();
        self.answer(url, answer)
    }

    /// A cookie this browser holds for `url`'s host.
    pub fn cookie(&self, url: &str, name: &str) -> Option<String> {
        self.jar.get(&origin(url))?.get(name).cloned()
    }

    /// Signs in at `gatekeep` (its public URL) as `login` through the provider, up to the
    /// provider's redirect back: returns that callback URL, not yet visited.
    pub fn sign_in_until_callback(&mut self, gatekeep: &str, login: &str) -> String {
        let callback = format!("{gatekeep}/auth/callback");
        let mut answer = self.get(&format!("{gatekeep}/auth/login"));
        let mut url = format!("{gatekeep}/auth/login");
        for _ in 0..20 {
            match answer.status {
                301..=303 | 307 | 308 => {
                    let next = answer.location.clone().unwrap();
                    if next.starts_with(&callback) {
                        return next;
                    }
                    url = next;
                    answer = self.get(&url);
                }
                200 if answer.body.contains("<form") => {
                    let (action, mut fields) = form(&answer.body);
                    for (name, value) in &mut fields {
                        match name.as_str() {
                            "login" => *value = login.to_owned(),
                            "password" => *value = "any".to_owned(),
                            _ => {}
                        }
                    }
                    url = resolve(&url, &action);
                    answer = self.post_form(&url, &fields);
                }
                _ => panic!(
                    "unexpected answer {} at {url}:\n{}",
                    answer.status, answer.body
                ),
            }
        }
        panic!("no callback after 20 steps");
    }
}

/// The first form's action and its inputs (name, value).
pub fn form(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").unwrap();
    let end = html[start..]
        .find("</form>")
        .map_or(html.len(), |e| start + e);
    let form = &html[start..end];
    let attr = |tag: &str, name: &str| {
        let needle = format!("{name}=\"");
        tag.find(&needle).map(|i| {
            let rest = &tag[i + needle.len()..];
            rest[..rest.find('"').unwrap_or(rest.len())].to_owned()
        })
    };
    let head = &form[..form.find('>').unwrap_or(form.len())];
    let action = attr(head, "action").unwrap_or_default();
    let mut fields = Vec::new();
    for piece in form.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap_or(piece.len())];
        if let Some(name) = attr(tag, "name") {
            fields.push((name, attr(tag, "value").unwrap_or_default()));
        }
    }
    (action, fields)
}
