//! Runs one job on a background thread while the caller does other work, for latency: a
//! keyless bundle's certificate checks (a P-384 signature by Fulcio's intermediate, the SCT)
//! overlap with its log and message checks. A job the pool has not started when the caller
//! wants its result is taken back and run by the caller itself, so a busy pool (a server
//! verifying many bundles at once) costs no waiting, and a pool that cannot start costs
//! nothing but the inline run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;

type Job<T> = Box<dyn FnOnce() -> T + Send>;
type Queue = Mutex<Sender<Arc<dyn Runnable>>>;

enum State<T> {
    Queued(Job<T>),
    Running,
    Done(thread::Result<T>),
    Taken,
}

struct Slot<T> {
    state: Mutex<State<T>>,
    done: Condvar,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A job runs outside the lock and its panic is caught: nothing can poison it midway.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the pool's threads run: a slot whose job may already have been taken back.
trait Runnable: Send + Sync {
    fn run(&self);
}

impl<T: Send> Runnable for Slot<T> {
    fn run(&self) {
        let job = {
            let mut state = self.lock();
            match std::mem::replace(&mut *state, State::Running) {
                State::Queued(job) => job,
                other => {
                    // Taken back by its caller: nothing to do.
                    *state = other;
                    return;
                }
            }
        };
        let result = panic::catch_unwind(AssertUnwindSafe(job));
        *self.lock() = State::Done(result);
        self.done.notify_all();
    }
}

/// A job handed to the pool; [`Pending::wait`] gives its result.
pub(crate) struct Pending<T> {
    slot: Arc<Slot<T>>,
}

impl<T: Send + 'static> Pending<T> {
    /// Hands `job` to a pool thread. Never fails: without a pool, `wait` runs the job.
    pub(crate) fn spawn(job: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Queued(Box::new(job))),
            done: Condvar::new(),
        });
        if let Some(queue) = queue() {
            // A closed queue (its threads gone) leaves the job queued for `wait`.
            let _ = queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(slot.clone());
        }
        Pending { slot }
    }

    /// The job's result: run here if no pool thread has started it, else waited for. A panic
    /// in the job resumes here, as if it had run inline.
    pub(crate) fn wait(self) -> T {
        let mut state = self.slot.lock();
        loop {
            match std::mem::replace(&mut *state, State::Taken) {
                State::Queued(job) => {
                    drop(state);
                    return job();
                }
                State::Running => {
                    *state = State::Running;
                    state = self
                        .slot
                        .done
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                State::Done(Ok(result)) => return result,
                State::Done(Err(payload)) => panic::resume_unwind(payload),
                State::Taken => unreachable!("a pending job's result is taken once, by wait"),
            }
        }
    }
}

/// The pool's queue, started on first use: one thread per core but the caller's, at least
/// one. `None` if no thread could be started.
fn queue() -> Option<&'static Queue> {
    static QUEUE: OnceLock<Option<Queue>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let threads = thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1))
                .clamp(1, 8);
            let (tx, rx) = mpsc::channel::<Arc<dyn Runnable>>();
            let rx = Arc::new(Mutex::new(rx));
            let mut started = 0;
            for i in 0..threads {
                let rx = rx.clone();
                let spawned = thread::Builder::new()
                    .name(format!("verify-{i}"))
                    .spawn(move || work(&rx));
                started += usize::from(spawned.is_ok());
            }
            (started > 0).then(|| Mutex::new(tx))
        })
        .as_ref()
}

fn work(rx: &Mutex<Receiver<Arc<dyn Runnable>>>) {
    loop {
        let next = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(slot) => slot.run(),
            Err(_) => return,
        }
    }
}

impl<T> Drop for Pending<T> {
    /// A result nobody will wait for: a job still queued is dropped unrun.
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        if matches!(*state, State::Queued(_)) {
            *state = State::Taken;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_whoever_runs_the_job() {
        let pending: Vec<_> = (0..64u64).map(|i| Pending::spawn(move || i * i)).collect();
        let results: Vec<u64> = pending.into_iter().map(Pending::wait).collect();
        assert_eq!(results, (0..64u64).map(|i| i * i).collect::<Vec<_>>());
    }

    /// Jobs that hold every pool thread (at most 8) until `open` is called: jobs spawned
    /// after them stay queued, since the queue is first in, first out.
    struct Blocked {
        gate: Arc<(Mutex<bool>, Condvar)>,
        jobs: Vec<Pending<()>>,
    }

    impl Blocked {
        fn new() -> Blocked {
            let gate = Arc::new((Mutex::new(false), Condvar::new()));
            let jobs = (0..8)
                .map(|_| {
                    let gate = gate.clone();
                    Pending::spawn(move || {
                        let (open, opened) = &*gate;
                        let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
                        while !*open {
                            open = opened.wait(open).unwrap_or_else(PoisonError::into_inner);
                        }
                    })
                })
                .collect();
            Blocked { gate, jobs }
        }

        fn open(self) {
            *self.gate.0.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.gate.1.notify_all();
            self.jobs.into_iter().for_each(Pending::wait);
        }
    }

    #[test]
    fn a_job_taken_back_before_it_started_runs_in_the_caller() {
        let blocked = Blocked::new();
        let caller = thread::current().id();
        let ran_on = Pending::spawn(|| thread::current().id()).wait();
        blocked.open();
        assert_eq!(ran_on, caller);
    }

    #[test]
    fn a_job_dropped_before_it_started_never_runs() {
        let blocked = Blocked::new();
        let ran = Arc::new(Mutex::new(false));
        let flag = ran.clone();
        drop(Pending::spawn(move || {
            *flag.lock().unwrap_or_else(PoisonError::into_inner) = true;
        }));
        blocked.open();
        // Whoever dequeues it now finds it dropped.
        assert!(!*ran.lock().unwrap_or_else(PoisonError::into_inner));
    }

    #[test]
    fn a_panicking_job_panics_in_its_caller() {
        let pending = Pending::spawn(|| -> u8 { panic!("inside the job") });
        let caught = panic::catch_unwind(AssertUnwindSafe(|| pending.wait()));
        assert!(caught.is_err());
    }
}
