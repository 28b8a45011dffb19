//! The metrics endpoint against clients that do not behave: one that sends a byte at a time, one
//! that never finishes its request, one whose request head has no end, and all of them still
//! connected when the program exits. Each must cost the server a bounded thread and a bounded
//! buffer for a bounded time, and never hold up a scrape or the exit.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use stage_4_scaling::metrics::PoolMetrics;
use stage_4_scaling::server::{
    MAX_CONNECTIONS, MAX_HEAD, MetricsServer, REQUEST_DEADLINE, exposure_warning,
};

fn server() -> MetricsServer {
    let address: SocketAddr = "127.0.0.1:0".parse().expect("an address");
    MetricsServer::start(address, Arc::new(PoolMetrics::new())).expect("the server starts")
}

/// A connection whose reads give up after 30 s: only a server that never answers reaches it.
fn connect(server: &MetricsServer) -> TcpStream {
    let stream = TcpStream::connect(server.address()).expect("the server accepts");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("a read timeout");
    stream
}

/// Everything the server sends until it closes the connection.
fn answer(mut stream: TcpStream) -> String {
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .expect("the server answers and closes");
    answer
}

fn scrape(server: &MetricsServer) -> String {
    let mut stream = connect(server);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("the request is sent");
    answer(stream)
}

#[test]
fn a_client_that_sends_a_byte_at_a_time_does_not_hold_up_a_scrape() {
    let server = server();
    let mut slow = connect(&server);
    let dribbling = Arc::new(AtomicBool::new(true));
    let still = Arc::clone(&dribbling);
    let dribbler = thread::spawn(move || {
        // A byte every 100 ms, until the server hangs up on it.
        for byte in b"GET /metrics HTTP/1.1\r\n".iter().cycle().take(600) {
            if slow.write_all(&[*byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(100));
        }
        still.store(false, Ordering::SeqCst);
    });
    // Answered while the slow client is still at it: each client has a thread of its own.
    let body = scrape(&server);
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    assert!(
        dribbling.load(Ordering::SeqCst),
        "the scrape waited for the slow client"
    );
    dribbler.join().expect("the slow client");
}

#[test]
fn clients_that_connect_and_say_nothing_cannot_keep_a_scrape_out() {
    let server = server();
    // More silent clients than the server holds at once: the newest push out the oldest.
    let silent: Vec<TcpStream> = (0..MAX_CONNECTIONS + 4).map(|_| connect(&server)).collect();
    let body = scrape(&server);
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
    drop(silent);
}

#[test]
fn a_scrape_with_parameters_gets_the_metrics() {
    let server = server();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /metrics?format=text HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("the request is sent");
    let body = answer(stream);
    assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
}

#[test]
fn a_client_that_never_finishes_its_request_is_cut_off() {
    let server = server();
    let mut stream = connect(&server);
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\n")
        .expect("half a request");
    // No answer, and the connection closed: by the whole request's deadline, not a read's.
    assert_eq!(answer(stream), "");
}

#[test]
fn a_request_head_past_the_limit_gets_431() {
    let server = server();
    let mut stream = connect(&server);
    // Just past the limit, in the server's own chunk size, so that it reads all of it before
    // it answers (a close with unread bytes would reset the connection instead).
    let head = vec![b'A'; MAX_HEAD + 1024];
    stream.write_all(&head).expect("the head is sent");
    let answer = answer(stream);
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large"),
        "{answer}"
    );
}

#[test]
fn dropping_the_server_cuts_off_its_clients_at_once() {
    let server = server();
    let silent = connect(&server);
    let _half = {
        let mut stream = connect(&server);
        stream.write_all(b"GET /met").expect("a few bytes");
        stream
    };
    // Both clients are being answered before the drop.
    thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    drop(server);
    let took = started.elapsed();
    assert!(
        took < REQUEST_DEADLINE / 2,
        "the exit waited {took:?} for clients whose deadline is {REQUEST_DEADLINE:?}"
    );
    assert_eq!(answer(silent), "");
}

#[test]
fn listening_beyond_this_machine_is_warned_about() {
    let loopback: SocketAddr = "127.0.0.1:9100".parse().expect("an address");
    let everywhere: SocketAddr = "0.0.0.0:9100".parse().expect("an address");
    assert_eq!(exposure_warning(loopback), None);
    assert!(
        exposure_warning(everywhere).is_some_and(|warning| warning.contains("0.0.0.0:9100")),
        "{everywhere}"
    );
}
