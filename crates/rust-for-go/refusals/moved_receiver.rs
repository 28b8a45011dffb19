// Refused: receiving on a channel end that was moved into a worker.
use std::sync::mpsc;
use std::thread;

/// Starts a worker that owns the receiver, then tries to receive here too.
pub fn receive_twice() -> u64 {
    let (sender, receiver) = mpsc::channel::<u64>();
    let worker = thread::spawn(move || receiver.iter().sum::<u64>());
    sender.send(1).expect("the worker is listening");
    let here = receiver.recv().unwrap_or(0);
    drop(sender);
    here + worker.join().expect("summing does not panic")
}
