//! A workload's restart policy as a plain state machine over time and events: the loop feeds
//! it what happened (started, exited, a timer, a request) and performs the action it returns.
//! No system calls here; the tests below drive it with made-up times.

use crate::spec::limits::MAX_START_BURST;
use crate::spec::workload::{LimitAction, Policy, Workload};

/// Milliseconds of CLOCK_MONOTONIC.
pub type Ms = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not running, and not to be started by itself (policy, or stopped by request).
    Stopped,
    /// Not started yet: waiting for its dependencies.
    Waiting,
    /// Its process runs.
    Running,
    /// Asked to stop (its stop signal sent); killed at `kill_at` if still there.
    Stopping { kill_at: Option<Ms> },
    /// Exited; started again at `until`.
    Backoff { until: Ms },
    /// Past its start limit (or its retries): it stays stopped until started by request.
    Failed,
}

/// What the loop does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Create and start the container.
    Start,
    /// Send this signal to the container's process (its stop signal).
    Signal(i32),
    /// SIGKILL to every process of the container.
    Kill,
    /// The start limit was passed: the loop applies the configured action.
    Limit(LimitAction),
}

/// What follows a stop, once the process has exited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// Stay stopped (a stop request; a workload being removed).
    Stay,
    /// Start again at once (a restart request).
    Start,
    /// Count as a failed run and let the policy decide (unhealthy, watchdog silent, not ready
    /// in time).
    Fail,
}

/// A workload's restart state.
pub struct Machine {
    pub policy: Policy,
    max_retries: Option<u32>,
    backoff_initial: Ms,
    backoff_max: Ms,
    reset_after: Ms,
    burst: usize,
    interval: Ms,
    action: LimitAction,
    stop_signal: i32,
    stop_timeout: Ms,

    pub phase: Phase,
    /// Restarts by the policy since the supervisor started (or since a start by request).
    pub restarts: u32,
    /// Failed runs in a row: the backoff's exponent and what maxRetries counts.
    retries: u32,
    /// When the last starts happened (for the start limit), oldest first.
    starts: heapless::Deque<Ms, MAX_START_BURST>,
    started_at: Ms,
    then: Then,
    /// Stopped by request (persisted for `unless-stopped`).
    pub user_stopped: bool,
}

/// A duration in milliseconds, without `as_millis`'s 128-bit arithmetic: the durations here
/// are at most 10^9 s (spec::units::parse_duration) or the monotonic clock, far from overflow.
pub fn ms(d: core::time::Duration) -> Ms {
    d.as_secs() * 1000 + u64::from(d.subsec_millis())
}

impl Machine {
    pub fn new(w: &Workload) -> Machine {
        Machine {
            policy: w.policy,
            max_retries: w.max_retries,
            backoff_initial: ms(w.backoff_initial),
            backoff_max: ms(w.backoff_max),
            reset_after: ms(w.reset_after),
            burst: (w.start_burst as usize).min(MAX_START_BURST),
            interval: ms(w.start_interval),
            action: w.limit_action,
            stop_signal: w.stop_signal,
            stop_timeout: ms(w.stop_timeout),
            phase: Phase::Waiting,
            restarts: 0,
            retries: 0,
            starts: heapless::Deque::new(),
            started_at: 0,
            then: Then::Stay,
            user_stopped: false,
        }
    }

    /// The process is running (created and started at `now`).
    pub fn started(&mut self, now: Ms) {
        self.phase = Phase::Running;
        self.started_at = now;
        if self.starts.is_full() {
            self.starts.pop_front();
        }
        let _ = self.starts.push_back(now);
    }

    /// A process found running when the supervisor started (adopted): running, with no start
    /// counted.
    pub fn adopted(&mut self, now: Ms) {
        self.phase = Phase::Running;
        self.started_at = now;
    }

    /// A start by request (or the first start, its dependencies met).
    pub fn start(&mut self) -> Option<Action> {
        match self.phase {
            Phase::Running | Phase::Stopping { .. } => None,
            _ => {
                self.user_stopped = false;
                self.retries = 0;
                self.starts.clear();
                Some(Action::Start)
            }
        }
    }

    /// A stop (by request, or before a removal, a restart or for a failure): the stop signal,
    /// then what `then` says once the process is gone.
    pub fn stop(&mut self, now: Ms, then: Then) -> Option<Action> {
        self.then = then;
        match self.phase {
            Phase::Running => {
                self.phase = Phase::Stopping {
                    kill_at: Some(now + self.stop_timeout),
                };
                Some(Action::Signal(self.stop_signal))
            }
            Phase::Stopping { .. } => None,
            // Nothing runs: the stop takes effect at once.
            _ => {
                self.phase = Phase::Stopped;
                if then == Then::Start {
                    return self.start();
                }
                None
            }
        }
    }

    /// The workload failed while running (unhealthy, watchdog silent, not ready in time):
    /// under a policy that restarts, stop it and count the run as failed.
    pub fn failed(&mut self, now: Ms) -> Option<Action> {
        if self.policy == Policy::No || self.phase != Phase::Running {
            return None;
        }
        self.stop(now, Then::Fail)
    }

    /// The process exited; `failure`: a non-zero code, a signal, or a failed start.
    pub fn exited(&mut self, now: Ms, failure: bool) -> Option<Action> {
        if let Phase::Stopping { .. } = self.phase {
            match self.then {
                Then::Stay => {
                    self.phase = Phase::Stopped;
                    return None;
                }
                Then::Start => {
                    self.phase = Phase::Stopped;
                    return self.start();
                }
                Then::Fail => {}
            }
        }
        let failure = failure || (self.phase != Phase::Running && self.then == Then::Fail);
        if now.saturating_sub(self.started_at) >= self.reset_after {
            self.retries = 0;
        }
        let again = match self.policy {
            Policy::No => false,
            Policy::OnFailure => failure,
            Policy::Always | Policy::UnlessStopped => true,
        };
        if !again {
            self.phase = Phase::Stopped;
            return None;
        }
        if let (Policy::OnFailure, Some(max)) = (self.policy, self.max_retries) {
            if self.retries >= max {
                self.phase = Phase::Failed;
                return None;
            }
        }
        // The start limit: at most `burst` starts within `interval`.
        let recent = self
            .starts
            .iter()
            .filter(|t| now.saturating_sub(**t) < self.interval)
            .count();
        if recent >= self.burst {
            self.phase = Phase::Failed;
            return Some(Action::Limit(self.action));
        }
        let delay = self
            .backoff_initial
            .saturating_mul(1u64 << self.retries.min(40))
            .min(self.backoff_max);
        self.retries += 1;
        self.restarts += 1;
        self.phase = Phase::Backoff { until: now + delay };
        None
    }

    /// Time has come to `now`: a backoff that ended starts the workload; a stop past its
    /// timeout kills it.
    pub fn tick(&mut self, now: Ms) -> Option<Action> {
        match self.phase {
            Phase::Backoff { until } if now >= until => Some(Action::Start),
            Phase::Stopping { kill_at: Some(t) } if now >= t => {
                self.phase = Phase::Stopping { kill_at: None };
                Some(Action::Kill)
            }
            _ => None,
        }
    }

    /// The next time `tick` has something to do.
    pub fn deadline(&self) -> Option<Ms> {
        match self.phase {
            Phase::Backoff { until } => Some(until),
            Phase::Stopping { kill_at } => kill_at,
            _ => None,
        }
    }

    /// The backoff delay the next failure would get (for the status).
    pub fn retries(&self) -> u32 {
        self.retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::workload::Workload;

    fn machine(json: &str) -> Machine {
        Machine::new(&Workload::parse("t.json", json.as_bytes()).unwrap())
    }

    /// Run, exit at `at` with `failure`, and say what the machine did.
    fn run_exit(m: &mut Machine, start: Ms, at: Ms, failure: bool) -> (Phase, Option<Action>) {
        m.started(start);
        let a = m.exited(at, failure);
        (m.phase, a)
    }

    #[test]
    fn on_failure_and_always_differ() {
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"on-failure"}}"#);
        assert_eq!(
            run_exit(&mut m, 0, 50, false),
            (Phase::Stopped, None),
            "exit 0 under on-failure: stays stopped"
        );
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"on-failure"}}"#);
        assert_eq!(run_exit(&mut m, 0, 50, true).0, Phase::Backoff { until: 150 });
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"always"}}"#);
        assert_eq!(
            run_exit(&mut m, 0, 50, false).0,
            Phase::Backoff { until: 150 },
            "exit 0 under always: restarted"
        );
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"no"}}"#);
        assert_eq!(run_exit(&mut m, 0, 50, true), (Phase::Stopped, None));
    }

    /// 100 ms doubling to the cap; a run longer than resetAfter starts again from 100 ms.
    #[test]
    fn backoff_doubles_to_its_cap_and_resets_after_a_stable_run() {
        let mut m = machine(
            r#"{"bundle":"/b","restart":{"backoff":{"initial":"100ms","max":"1s","resetAfter":"10s"}},"startLimit":{"burst":100,"interval":"1s"}}"#,
        );
        let mut now = 0;
        let mut delays = Vec::new();
        for _ in 0..7 {
            m.started(now);
            now += 10;
            assert_eq!(m.exited(now, true), None);
            let Phase::Backoff { until } = m.phase else {
                panic!("{:?}", m.phase)
            };
            delays.push(until - now);
            assert_eq!(m.deadline(), Some(until));
            assert_eq!(m.tick(until - 1), None);
            assert_eq!(m.tick(until), Some(Action::Start));
            now = until;
        }
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000, 1000]);
        assert_eq!(m.restarts, 7);
        // Stable for 10 s: the next failure waits 100 ms again.
        m.started(now);
        now += 10_000;
        m.exited(now, true);
        assert_eq!(m.phase, Phase::Backoff { until: now + 100 });
    }

    /// Five starts in ten seconds (the default): the sixth is refused and the action applies.
    #[test]
    fn the_start_limit_and_its_action() {
        for (action, want) in [
            ("stop", LimitAction::Stop),
            ("watchdog", LimitAction::Watchdog),
            ("reboot", LimitAction::Reboot),
        ] {
            let mut m = machine(&format!(r#"{{"bundle":"/b","startLimit":{{"action":"{action}"}}}}"#));
            let mut now = 0;
            let mut last = None;
            for _ in 0..5 {
                m.started(now);
                now += 10;
                last = m.exited(now, true);
                if let Phase::Backoff { until } = m.phase {
                    now = until;
                }
            }
            assert_eq!(last, Some(Action::Limit(want)));
            assert_eq!(m.phase, Phase::Failed);
            assert_eq!(m.tick(now + 100_000), None, "a failed workload is not started by time");
            // A start by request starts it again, with a fresh start window.
            assert_eq!(m.start(), Some(Action::Start));
        }
        // Starts spread wider than the interval never reach the limit.
        let mut m = machine(r#"{"bundle":"/b","restart":{"backoff":{"initial":"3s","max":"3s"}}}"#);
        let mut now = 0;
        for _ in 0..20 {
            m.started(now);
            now += 10;
            assert_eq!(m.exited(now, true), None);
            let Phase::Backoff { until } = m.phase else { panic!() };
            now = until;
        }
    }

    #[test]
    fn on_failure_max_retries() {
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"on-failure","maxRetries":2}}"#);
        let mut now = 0;
        for i in 0..3 {
            m.started(now);
            now += 10;
            m.exited(now, true);
            if i < 2 {
                let Phase::Backoff { until } = m.phase else { panic!() };
                now = until;
            }
        }
        assert_eq!(m.phase, Phase::Failed);
    }

    /// A stop sends the stop signal, kills at the timeout, and stays stopped; a restart starts
    /// again at once; a stop while in backoff takes effect at once.
    #[test]
    fn stop_restart_and_kill() {
        let mut m = machine(r#"{"bundle":"/b","stop":{"signal":"SIGINT","timeout":"2s"}}"#);
        m.started(0);
        assert_eq!(m.stop(100, Then::Stay), Some(Action::Signal(libc::SIGINT)));
        assert_eq!(m.deadline(), Some(2100));
        assert_eq!(m.tick(2099), None);
        assert_eq!(m.tick(2100), Some(Action::Kill));
        assert_eq!(m.tick(9999), None, "killed once");
        assert_eq!(m.exited(2200, true), None);
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.restarts, 0, "a requested stop is not a restart");

        m.started(3000);
        assert_eq!(m.stop(3100, Then::Start), Some(Action::Signal(libc::SIGINT)));
        assert_eq!(m.exited(3200, false), Some(Action::Start));

        m.started(4000);
        m.exited(4010, true);
        assert!(matches!(m.phase, Phase::Backoff { .. }));
        assert_eq!(m.stop(4020, Then::Stay), None);
        assert_eq!(m.phase, Phase::Stopped);
        assert_eq!(m.tick(99_999), None);
    }

    /// Unhealthy (or silent past its watchdog): stopped and counted as a failure, so even
    /// on-failure restarts it; policy `no` leaves it running.
    #[test]
    fn a_failure_while_running_restarts_by_the_policy() {
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"on-failure"}}"#);
        m.started(0);
        assert_eq!(m.failed(5000), Some(Action::Signal(libc::SIGTERM)));
        // It exits 0 on SIGTERM: still a failure.
        assert_eq!(m.exited(5100, false), None);
        assert_eq!(m.phase, Phase::Backoff { until: 5200 });
        let mut m = machine(r#"{"bundle":"/b","restart":{"policy":"no"}}"#);
        m.started(0);
        assert_eq!(m.failed(5000), None);
        assert_eq!(m.phase, Phase::Running);
    }
}
