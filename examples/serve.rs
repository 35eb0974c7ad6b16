//! bufbridge in an async service: an HTTP server (hyper 1 on tokio) that
//! runs a guest over each POST body with `Host::run_async`.
//!
//! ```sh
//! cargo run --release --example serve -- 127.0.0.1:8080
//! curl --data-binary @README.md 'http://127.0.0.1:8080/?arg=upper'
//! ```
//!
//! `serve [ADDR] [NAME=GUEST.wasm...]`: ADDR defaults to 127.0.0.1:8080 (port
//! 0 picks a free one); the first line on stdout is `listening on
//! http://ADDR`. `POST /` runs the default guest, `POST /NAME` a guest given
//! as `NAME=PATH`. Query parameters: `arg` (repeated) are the guest's
//! arguments; `timeout` (`500ms`), `memory`, `max-output`, `quota` (`64MiB`)
//! tighten the server's limits for this request (never loosen them).
//!
//! | status | when | body |
//! |---|---|---|
//! | 200 | the guest succeeded | the output |
//! | 400 | a bad query parameter or body | what is wrong |
//! | 404, 405, 413 | no such guest, not a POST, a body over 64 MiB | what is wrong |
//! | 422 | the guest returned an error | its message |
//! | 500 | a limit, a trap, the host's I/O | the cause, in one line |

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bufbridge::units::{Seconds, Size, parse_duration, parse_size};
use bufbridge::{DEFAULT_GUEST, Guest, Host, Limits, RunError};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The largest body the server reads.
const MAX_INPUT: usize = 64 << 20;

/// Runs at once; more wait their turn. Each holds a store, the guest's
/// memory and its input, and runs compete for the same cores anyway.
const MAX_RUNS: usize = 64;

fn main() -> ExitCode {
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<(), Box<dyn std::error::Error>> {
    let mut words = std::env::args().skip(1);
    let addr: SocketAddr = words
        .next()
        .as_deref()
        .unwrap_or("127.0.0.1:8080")
        .parse()?;
    let mut named = Vec::new();
    for word in words {
        let (name, path) = word
            .split_once('=')
            .ok_or_else(|| format!("`{word}`: give guests as NAME=PATH"))?;
        named.push((name.to_string(), std::fs::read(path)?));
    }
    let server = Server::new(Limits::default(), &named)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = TcpListener::bind(addr).await?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        serve(listener, Arc::new(server)).await;
        Ok(())
    })
}

/// One host, its guests by name, and the most a request may ask for.
pub struct Server {
    host: Host,
    guests: BTreeMap<String, Guest>,
    limits: Limits,
    runs: Semaphore,
}

impl Server {
    /// The default guest as "default", and `named` guests (name, wasm).
    pub fn new(limits: Limits, named: &[(String, Vec<u8>)]) -> Result<Self, String> {
        let host = Host::new().map_err(|e| format!("cannot start the engine: {e:#}"))?;
        let mut guests = BTreeMap::new();
        let default = [("default".to_string(), DEFAULT_GUEST.to_vec())];
        for (name, wasm) in default.iter().chain(named) {
            let guest = host
                .load(wasm)
                .map_err(|e| format!("cannot load guest `{name}`: {e}"))?;
            guests.insert(name.clone(), guest);
        }
        Ok(Server {
            host,
            guests,
            limits,
            runs: Semaphore::new(MAX_RUNS),
        })
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Full<Bytes>> {
        let (status, body, kind) = match self.respond(request).await {
            Ok(output) => (StatusCode::OK, output, "application/octet-stream"),
            Err((status, message)) => (status, format!("{message}\n").into_bytes(), "text/plain"),
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        response
    }

    async fn respond(&self, request: Request<Incoming>) -> Result<Vec<u8>, (StatusCode, String)> {
        if request.method() != Method::POST {
            let message = "POST the input; the response is the guest's output";
            return Err((StatusCode::METHOD_NOT_ALLOWED, message.into()));
        }
        let name = match request.uri().path().trim_start_matches('/') {
            "" => "default",
            name => name,
        };
        let guest = self.guests.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.guests.keys().map(String::as_str).collect();
            let message = format!("no guest `{name}`; this server has {}", known.join(", "));
            (StatusCode::NOT_FOUND, message)
        })?;
        let query = request.uri().query().unwrap_or("");
        let (args, limits) = self
            .options(query)
            .map_err(|message| (StatusCode::BAD_REQUEST, message))?;
        let body = Limited::new(request.into_body(), MAX_INPUT)
            .collect()
            .await
            .map_err(|e| match e.downcast_ref::<LengthLimitError>() {
                Some(_) => {
                    let message = format!("the body is over {}", Size(MAX_INPUT as u64));
                    (StatusCode::PAYLOAD_TOO_LARGE, message)
                }
                None => (StatusCode::BAD_REQUEST, format!("reading the body: {e}")),
            })?
            .to_bytes();
        // The semaphore is never closed, so a permit always comes.
        let _permit = self.runs.acquire().await;
        let run = self.host.run_async(guest, body.to_vec(), &args, &limits);
        run.await.map_err(|e| match e {
            RunError::Failed(message) => (StatusCode::UNPROCESSABLE_ENTITY, message),
            other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        })
    }

    /// The guest's arguments and the request's limits, from the query.
    fn options(&self, query: &str) -> Result<(Vec<String>, Limits), String> {
        let mut args = Vec::new();
        let mut limits = self.limits.clone();
        let size = |value: &str, cap: u64, what: &str| -> Result<u64, String> {
            let size = parse_size(value).map_err(|e| format!("`{what}`: {e}"))?;
            match size <= cap {
                true => Ok(size),
                false => Err(format!("`{what}` is over this server's {}", Size(cap))),
            }
        };
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            match &*key {
                "arg" => args.push(value.into_owned()),
                "memory" => limits.memory = size(&value, self.limits.memory, "memory")?,
                "quota" => limits.quota = size(&value, self.limits.quota, "quota")?,
                "max-output" => {
                    limits.max_output = size(&value, self.limits.max_output, "max-output")?
                }
                "timeout" => {
                    let timeout = parse_duration(&value).map_err(|e| format!("`timeout`: {e}"))?;
                    let cap = self.limits.timeout.unwrap_or(Duration::MAX);
                    if timeout.is_zero() || timeout > cap {
                        let cap = Seconds(cap);
                        return Err(format!("`timeout` must be more than 0 and at most {cap}"));
                    }
                    limits.timeout = Some(timeout);
                }
                other => return Err(format!("unknown parameter `{other}`")),
            }
        }
        Ok((args, limits))
    }
}

/// Serves each connection on its own task until the listener fails.
pub async fn serve(listener: TcpListener, server: Arc<Server>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait for some to close.
                eprintln!("serve: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                eprintln!("serve: a connection failed: {e}");
            }
        });
    }
}
