//! `examples/serve.rs`, served on a loopback port and asked over HTTP by a
//! real client (hyper's) with many requests at once: each gets its own
//! result and status, whatever the others do.

// The example itself, compiled into this test; its `main` is not used here.
#[allow(dead_code)]
#[path = "../../examples/serve.rs"]
mod example;

use std::net::SocketAddr;
use std::sync::Arc;

use bufbridge::Limits;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// One request on a connection of its own; the status and the body.
async fn request(
    addr: SocketAddr,
    method: Method,
    target: &str,
    body: Vec<u8>,
) -> (StatusCode, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(target)
        .header(hyper::header::HOST, addr.to_string())
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn post(addr: SocketAddr, target: &str, body: Vec<u8>) -> (StatusCode, String) {
    request(addr, Method::POST, target, body).await
}

#[test]
fn each_request_gets_its_own_result_and_status() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let hostile = [(
            "hostile".to_string(),
            crate::common::hostile_wasm().to_vec(),
        )];
        let server = example::Server::new(Limits::default(), &hostile).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(example::serve(listener, Arc::new(server)));

        // A guest spinning until its time limit holds one run for seconds
        // while every other request comes and goes.
        let spin = tokio::spawn(post(addr, "/hostile?arg=spin&timeout=5s", vec![]));
        let uppers: Vec<_> = (0..32)
            .map(|i| {
                let body = format!("request {i}, ").repeat(i * 20 + 1);
                tokio::spawn(async move {
                    let reply = post(addr, "/?arg=upper", body.clone().into_bytes()).await;
                    (body, reply)
                })
            })
            .collect();
        let others: Vec<_> = [
            // A trap, the guest's own error, and a limit, each for its own request.
            ("/hostile?arg=forge-handle", 500, "guest trapped"),
            (
                "/hostile?arg=write-then-err",
                422,
                "deliberate failure after writing",
            ),
            (
                "/hostile?arg=memory-bomb&memory=16MiB",
                500,
                "exceeded the memory limit of 16 MiB",
            ),
            ("/?arg=no-such-command", 422, "no-such-command"),
            // Bad requests.
            ("/?arg=upper&memory=lots", 400, "`memory`"),
            ("/?arg=upper&memory=1TiB", 400, "over this server's"),
            ("/?arg=upper&timeout=0", 400, "`timeout`"),
            ("/?colour=blue", 400, "unknown parameter `colour`"),
            (
                "/nobody?arg=upper",
                404,
                "no guest `nobody`; this server has default, hostile",
            ),
        ]
        .into_iter()
        .map(|(target, status, says)| {
            tokio::spawn(async move {
                (
                    target,
                    status,
                    says,
                    post(addr, target, b"x".to_vec()).await,
                )
            })
        })
        .collect();

        for upper in uppers {
            let (body, (status, output)) = upper.await.unwrap();
            assert_eq!(status, StatusCode::OK, "{output}");
            assert_eq!(output, body.to_uppercase());
        }
        for other in others {
            let (target, want, says, (status, body)) = other.await.unwrap();
            assert_eq!(status.as_u16(), want, "{target}: {body}");
            assert!(body.contains(says), "{target}: {body}");
        }
        let (status, body) = request(addr, Method::GET, "/", vec![]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        assert!(
            !spin.is_finished(),
            "the spinning guest ran out its 5 s before the other requests were served"
        );
        let (status, body) = spin.await.unwrap();
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body, "guest exceeded the time limit of 5s\n");
        // The server still serves after all that.
        let (status, body) = post(addr, "/?arg=reverse", b"abc".to_vec()).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "cba"));
        served.abort();
    });
}
