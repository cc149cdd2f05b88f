//! The invocation worker pool: one Lua state per worker thread.
//!
//! Lua runs CPU-bound and synchronously, so it must never run on tokio's
//! core threads (one slow handler would stall every connection). Each
//! worker owns a `State` of the shared engine — code is shared, heaps are
//! not — and takes jobs from one bounded queue; a full queue is reported to
//! the caller at once instead of letting latency grow without bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use ember_engine::{Engine, Error, Limits, LuaValue};
use tokio::sync::oneshot;

/// One call to run.
pub struct Job {
    /// Module name.
    pub module: String,
    /// Function name or dotted path.
    pub function: String,
    /// Arguments.
    pub args: Vec<LuaValue>,
    /// Where the outcome goes.
    pub reply: oneshot::Sender<Outcome>,
}

/// What a call did.
pub struct Outcome {
    /// Results or the Lua error.
    pub result: Result<Vec<LuaValue>, Error>,
    /// Time on the worker.
    pub duration_us: u64,
}

/// Counters of the pool.
#[derive(Default)]
pub struct PoolCounters {
    /// Calls completed.
    pub invocations: AtomicU64,
    /// Calls that ended in a Lua error or limit.
    pub errors: AtomicU64,
    /// Calls refused because the queue was full.
    pub rejected: AtomicU64,
}

/// Per-worker heap size, updated after each call.
type HeapGauges = Arc<Vec<AtomicU64>>;

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is full.
    Busy,
    /// The pool is shutting down.
    Closed,
}

/// A fixed set of worker threads, each with its own Lua state.
pub struct Pool {
    tx: Mutex<Option<SyncSender<Job>>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// Counters since start.
    pub counters: Arc<PoolCounters>,
    heap: HeapGauges,
    size: usize,
}

impl Pool {
    /// Starts `workers` threads (at least one) with a queue of `queue` jobs;
    /// every invocation runs under `limits`.
    pub fn start(engine: &Engine, workers: usize, queue: usize, limits: Limits) -> Pool {
        let workers = workers.max(1);
        let (tx, rx) = sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        let counters = Arc::new(PoolCounters::default());
        let heap: HeapGauges = Arc::new((0..workers).map(|_| AtomicU64::new(0)).collect());
        let handles = (0..workers)
            .map(|i| {
                let (engine, rx, counters, limits, heap) = (engine.clone(), rx.clone(), counters.clone(), limits.clone(), heap.clone());
                std::thread::Builder::new()
                    .name(format!("ember-worker-{i}"))
                    .spawn(move || worker(engine, rx, counters, limits, heap, i))
                    .expect("spawn worker thread")
            })
            .collect();
        Pool { tx: Mutex::new(Some(tx)), workers: Mutex::new(handles), counters, heap, size: workers }
    }

    /// Bytes on the workers' Lua heaps (as of each one's last call).
    pub fn heap_bytes(&self) -> u64 {
        self.heap.iter().map(|h| h.load(Ordering::Relaxed)).sum()
    }

    /// Number of workers.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Queues a job without blocking.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        let tx = self.tx.lock().expect("pool lock");
        let Some(tx) = tx.as_ref() else { return Err(SubmitError::Closed) };
        match tx.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                Err(SubmitError::Busy)
            }
            Err(TrySendError::Disconnected(_)) => Err(SubmitError::Closed),
        }
    }

    /// Stops taking jobs, lets queued ones finish, and joins the workers.
    pub fn drain(&self) {
        self.tx.lock().expect("pool lock").take();
        for h in self.workers.lock().expect("pool lock").drain(..) {
            let _ = h.join();
        }
    }
}

fn worker(engine: Engine, rx: Arc<Mutex<Receiver<Job>>>, counters: Arc<PoolCounters>, limits: Limits, heap: HeapGauges, me: usize) {
    let mut state = engine.new_state();
    state.set_limits(limits);
    // print/io.write from handlers go nowhere rather than into the node's log.
    state.set_output(Box::new(std::io::sink()));
    loop {
        let job = {
            let rx = rx.lock().expect("pool queue lock");
            match rx.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let before = state.stats();
        let t0 = Instant::now();
        let result = state.call_in_module(&job.module, &job.function, &job.args);
        let elapsed = t0.elapsed();
        let duration_us = elapsed.as_micros() as u64;
        counters.invocations.fetch_add(1, Ordering::Relaxed);
        if result.is_err() {
            counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        let after = state.stats();
        heap[me].store(after.heap_bytes as u64, Ordering::Relaxed);
        // Labelled by the highest tier that ran in the call.
        let tier = if after.tier2_calls > before.tier2_calls {
            "2"
        } else if after.tier1_calls > before.tier1_calls {
            "1"
        } else {
            "0"
        };
        let outcome = if result.is_ok() { "ok" } else { "error" };
        metrics::counter!("ember_invocations_total", "tier" => tier, "outcome" => outcome).increment(1);
        metrics::histogram!("ember_invoke_seconds", "tier" => tier).record(elapsed.as_secs_f64());
        let _ = job.reply.send(Outcome { result, duration_us });
    }
}
