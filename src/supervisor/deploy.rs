//! Activating, testing, committing and rolling back a workload's revisions (`mote deploy`),
//! inside the supervisor's loop: it runs the containers, so it decides when a new revision is
//! good.
//!
//! A test: the store's status says `testing` and its `current` link names the new revision;
//! the new revision runs as a *candidate* slot beside the workload's slot (container
//! `<name>+<revision>`), with no restart policy of its own.
//! - hand-over (the default): the old revision keeps running until the candidate is ready and
//!   healthy, then it is stopped (kept, stopped, for a rollback until the commit);
//! - stop-first: the old revision is stopped first, then the candidate starts.
//!
//! The candidate failing to start, exiting, going unhealthy, or not being ready and healthy
//! within `deploy.timeout` rolls the deployment back: the status first (so that a power cut
//! from here on comes back on the old revision), then the candidate is stopped and the old
//! revision started again if it was stopped. Healthy for `deploy.commitAfter` (or
//! `mote deploy commit`): committed; the old slot goes, the candidate becomes the workload.
//!
//! A supervisor that starts and finds a test in the status rolls it back before starting
//! anything: a test does not survive a restart of the supervisor or of the device.

use crate::prelude::*;

use super::policy::{ms, Ms, Phase, Then};
use super::{now_ms, Slot, Sup};
use crate::deploy::fault;
use crate::deploy::store::{self, Store};
use crate::error::Kind;
use crate::spec::workload::{Condition, Policy, Strategy, Workload};
use core::time::Duration;

/// How long the supervisor waits for a workload's status lock (a deploy command holds it for
/// milliseconds).
const LOCK_WAIT: Duration = Duration::from_secs(2);

/// A revision under test.
pub struct Test {
    pub name: String,
    pub store: String,
    pub rev: String,
    /// The candidate slot (index and generation).
    pub cand: (usize, u32),
    /// The workload's slot running the old revision (None: the first deployment).
    pub old: Option<(usize, u32)>,
    pub strategy: Strategy,
    pub deadline: Ms,
    pub commit_after: Ms,
    /// The candidate was asked to start.
    pub launched: bool,
    pub healthy_since: Option<Ms>,
    /// The workload's own restart policy (the candidate runs with none until committed).
    pub policy: Policy,
}

/// A container id for a workload: its name, or `<name>+<revision>` for a revision.
pub fn container_id(w: &Workload) -> String {
    match &w.revision {
        Some(r) => format!("{}+{r}", w.name),
        None => w.name.clone(),
    }
}

/// Point a workload from a store at the revision its status names. At start-up a test found
/// in the status is rolled back first. Err: why it cannot run (nothing deployed yet...).
pub fn resolve(w: &mut Workload, startup: bool, say: &mut dyn FnMut(core::fmt::Arguments<'_>)) -> Result<(), String> {
    let Some(path) = w.store.clone() else { return Ok(()) };
    let s = Store::open(&path, false).map_err(|e| format!("{e}"))?;
    let wd = match s.workload(&w.name, false) {
        Ok(wd) => wd,
        Err(_) => {
            return Err(format!(
                "no revision deployed yet in {path} (mote deploy stage, then activate)"
            ))
        }
    };
    let _l = wd.lock(LOCK_WAIT).map_err(|e| format!("{e}"))?;
    let mut st = wd.read_status();
    if startup && st.phase == store::Phase::Testing {
        let why = if st.boot != store::boot_id() {
            "the device restarted during the test"
        } else {
            "the supervisor restarted during the test"
        };
        let t = st.testing.clone().unwrap_or_default();
        if st.rollback(why, None).unwrap_or(false) {
            say(format_args!("{}: revision {t} rolled back: {why}", w.name));
            wd.write_status(&mut st).map_err(|e| format!("{e}"))?;
        }
    }
    // Links left behind by a power cut follow the status again.
    let _ = wd.sync_links(&st);
    let rev = st.current().ok_or_else(|| {
        format!(
            "no revision deployed yet in {path} (the deployment is {})",
            st.phase.as_str()
        )
    })?;
    w.bundle = wd.bundle(rev);
    w.revision = Some(rev.into());
    Ok(())
}

impl Sup<'_> {
    pub(super) fn test_index(&self, name: &str) -> Option<usize> {
        self.tests.iter().position(|t| t.name == name)
    }

    fn slot_gen(&self, (i, g): (usize, u32)) -> Option<&Slot> {
        self.slots.get(i).and_then(|s| s.as_ref()).filter(|s| s.gen == g)
    }

    /// `mote deploy activate`: begin testing a revision. Ok: what was done.
    pub(super) fn activate(
        &mut self,
        name: &str,
        store_path: &str,
        rev: Option<&str>,
        timeout: Option<Ms>,
    ) -> Result<String, (Kind, String)> {
        let failed = |m: String| (Kind::Failed, m);
        let i = self
            .slot_index(name)
            .ok_or_else(|| failed(format!("no workload {name:?} (its workload file names the store)")))?;
        let (w, was_undeployed) = {
            let s = self.slots[i].as_ref().ok_or_else(|| failed("gone".into()))?;
            (s.w.clone(), s.undeployed)
        };
        if w.store.as_deref() != Some(store_path) {
            return Err((
                Kind::Usage,
                format!(
                    "workload {name:?} takes its revisions from {} (its workload file's \"store\"), not {store_path}",
                    w.store.as_deref().unwrap_or("no store")
                ),
            ));
        }
        let s = Store::open(store_path, false).map_err(|e| failed(format!("{e}")))?;
        let wd = s.workload(name, false).map_err(|e| failed(format!("{e}")))?;
        let _l = wd.lock(LOCK_WAIT).map_err(|e| failed(format!("{e}")))?;
        let mut st = wd.read_status();
        let rev = match rev
            .map(String::from)
            .or_else(|| st.staged.clone())
            .or_else(|| st.testing.clone())
        {
            Some(r) => r,
            None => return Err(failed(format!("nothing staged for {name:?} (mote deploy stage first)"))),
        };
        if !wd.has_revision(&rev) {
            return Err(failed(format!("revision {rev} of {name:?} is not in the store")));
        }
        if let Some(t) = self.test_index(name) {
            return if self.tests[t].rev == rev {
                Ok(format!("revision {rev} is already under test"))
            } else {
                Err(failed(format!(
                    "revision {} is under test: commit it or roll it back first",
                    self.tests[t].rev
                )))
            };
        }
        match st.begin_test(&rev, &store::boot_id()) {
            Ok(false) => return Ok(format!("revision {rev} already runs")),
            Ok(true) => {}
            Err(m) => return Err(failed(m)),
        }
        fault("activate-begin");
        wd.write_status(&mut st).map_err(|e| failed(format!("{e}")))?;
        fault("activate-status-written");
        let now = now_ms();
        let mut nw = w.clone();
        nw.bundle = wd.bundle(&rev);
        nw.revision = Some(rev.clone());
        let policy = w.policy;
        nw.policy = Policy::No;
        let deadline = now + timeout.unwrap_or(ms(w.deploy.timeout));
        let commit_after = ms(w.deploy.commit_after);
        let (cand, old) = if was_undeployed {
            // The first deployment: the workload's slot is the candidate.
            let g = self.gen();
            let mut slot = Slot::new(nw, g);
            slot.m.phase = Phase::Stopped;
            self.slots[i] = Some(slot);
            ((i, g), None)
        } else {
            let g = self.gen();
            let mut slot = Slot::new(nw, g);
            slot.candidate = true;
            slot.m.phase = Phase::Stopped;
            self.slots.push(Some(slot));
            let old_gen = self.slots[i].as_ref().map_or(0, |s| s.gen);
            ((self.slots.len() - 1, g), Some((i, old_gen)))
        };
        self.tests.push(Test {
            name: name.into(),
            store: store_path.into(),
            rev: rev.clone(),
            cand,
            old,
            strategy: w.deploy.strategy,
            deadline,
            commit_after,
            launched: false,
            healthy_since: None,
            policy,
        });
        (self.say)(format_args!(
            "{name}: testing revision {rev} ({}, rolled back unless ready and healthy within {} s)",
            match w.deploy.strategy {
                Strategy::HandOver => "hand-over: the old revision serves until then",
                Strategy::StopFirst => "stop-first: the old revision is stopped first",
            },
            (deadline - now) / 1000
        ));
        if w.deploy.strategy == Strategy::StopFirst {
            if let Some((oi, _)) = old {
                let a = self.slots[oi].as_mut().and_then(|s| s.m.stop(now, Then::Stay));
                self.act(oi, a);
                self.finish_stopped(oi);
            }
        }
        self.dirty = true;
        self.status_changed = true;
        Ok(format!("revision {rev} under test"))
    }

    /// After each wake: move every test along.
    pub(super) fn deploy_tick(&mut self, now: Ms) {
        let mut k = 0;
        while k < self.tests.len() {
            if self.test_step(k, now) {
                self.tests.remove(k);
            } else {
                k += 1;
            }
        }
    }

    /// One test's step; true when it is over.
    fn test_step(&mut self, k: usize, now: Ms) -> bool {
        let t = &self.tests[k];
        let cand = t.cand;
        let Some(c) = self.slot_gen(cand) else {
            return self.roll_back(k, "its workload was removed");
        };
        // Start the candidate: at once (hand-over), or once the old one has stopped.
        if !t.launched {
            let old_down = t.old.is_none_or(|o| self.slot_gen(o).is_none_or(|s| !s.exists));
            if t.strategy == Strategy::HandOver || old_down {
                self.tests[k].launched = true;
                if self.end.is_none() {
                    let a = self.slots[cand.0].as_mut().and_then(|s| s.m.start());
                    self.act(cand.0, a);
                }
            }
            return false;
        }
        // Failed while running (its policy, none, does not stop it): unhealthy, not ready in
        // time, silent past its watchdog.
        if c.exists && c.health == super::HealthState::Unhealthy {
            let why = format!("it was unhealthy: {}", c.health_output);
            return self.roll_back(k, &why);
        }
        if let Some(e) = c
            .last_error
            .as_ref()
            .filter(|e| c.exists && !e.starts_with("warnings:"))
        {
            let why = format!("it failed: {e}");
            return self.roll_back(k, &why);
        }
        let c_exists = c.exists;
        let ended = !c.exists && matches!(c.m.phase, Phase::Stopped | Phase::Failed | Phase::Backoff { .. });
        if ended {
            let why = match (&c.last_error, &c.last_exit) {
                (Some(e), _) if !e.starts_with("warnings:") => format!("it failed to start: {e}"),
                (_, Some(x)) => format!("it {x}"),
                _ => "it stopped".into(),
            };
            let why = if c.health == super::HealthState::Unhealthy {
                format!("it was unhealthy: {}", c.health_output)
            } else {
                why
            };
            return self.roll_back(k, &why);
        }
        let good = c_exists && c.reached(Condition::Healthy);
        let t = &mut self.tests[k];
        match (good, t.healthy_since) {
            (true, None) => {
                t.healthy_since = Some(now);
                let (name, store_path, old, strategy) = (t.name.clone(), t.store.clone(), t.old, t.strategy);
                (self.say)(format_args!(
                    "{name}: the new revision is ready and healthy; committing it in {} s",
                    self.tests[k].commit_after / 1000
                ));
                self.set_healthy(&name, &store_path, true);
                // Hand-over: the old revision stops now (kept for a rollback until the commit).
                if strategy == Strategy::HandOver {
                    if let Some((oi, og)) = old {
                        if self.slot_gen((oi, og)).is_some() {
                            let a = self.slots[oi].as_mut().and_then(|s| s.m.stop(now, Then::Stay));
                            self.act(oi, a);
                        }
                    }
                }
                fault("activate-handed-over");
                false
            }
            (true, Some(since)) if now >= since + t.commit_after => {
                let (name, store_path) = (t.name.clone(), t.store.clone());
                match self.commit_test(k, "healthy for deploy.commitAfter") {
                    Ok(()) => true,
                    Err(e) => {
                        (self.say)(format_args!("{name}: commit in {store_path}: {e}"));
                        false
                    }
                }
            }
            (false, Some(_)) => {
                let why = if c_exists {
                    "it stopped being ready and healthy"
                } else {
                    "it stopped"
                };
                self.roll_back(k, why)
            }
            (false, None) if now >= t.deadline => self.roll_back(k, "not ready and healthy within deploy.timeout"),
            _ => false,
        }
    }

    fn set_healthy(&mut self, name: &str, store_path: &str, healthy: bool) {
        let r = Store::open(store_path, false).and_then(|s| {
            let wd = s.workload(name, false)?;
            let _l = wd.lock(LOCK_WAIT)?;
            let mut st = wd.read_status();
            if st.healthy != healthy {
                st.healthy = healthy;
                wd.write_status(&mut st)?;
            }
            Ok(())
        });
        if let Err(e) = r {
            (self.say)(format_args!("{name}: deploy status: {e}"));
        }
    }

    /// Commit test `k`: the status, then the slots (the old one goes, the candidate stays).
    pub(super) fn commit_test(&mut self, k: usize, why: &str) -> Result<(), String> {
        let t = &self.tests[k];
        let (name, store_path, rev, cand, old, policy) =
            (t.name.clone(), t.store.clone(), t.rev.clone(), t.cand, t.old, t.policy);
        let keep = self.slot_gen(cand).map_or(2, |s| s.w.deploy.keep as usize);
        let s = Store::open(&store_path, false).map_err(|e| format!("{e}"))?;
        let wd = s.workload(&name, false).map_err(|e| format!("{e}"))?;
        {
            let _l = wd.lock(LOCK_WAIT).map_err(|e| format!("{e}"))?;
            let mut st = wd.read_status();
            fault("commit-begin");
            st.commit(why).map_err(|m| m.to_string())?;
            wd.gc(&mut st, keep);
            wd.write_status(&mut st).map_err(|e| format!("{e}"))?;
            fault("commit-status-written");
        }
        if let Ok(_lock) = s.lock() {
            s.gc_objects();
        }
        (self.say)(format_args!("{name}: revision {rev} committed ({why})"));
        let now = now_ms();
        if let Some((oi, og)) = old {
            if self.slot_gen((oi, og)).is_some() {
                if let Some(o) = self.slots[oi].as_mut() {
                    o.remove = true;
                    let a = o.m.stop(now, Then::Stay);
                    self.act(oi, a);
                }
                self.finish_stopped(oi);
            }
        }
        if let Some(c) = self.slots[cand.0].as_mut().filter(|c| c.gen == cand.1) {
            c.candidate = false;
            c.undeployed = false;
            c.w.policy = policy;
            c.m.policy = policy;
        }
        self.dirty = true;
        self.status_changed = true;
        Ok(())
    }

    /// Roll test `k` back: the status first, then the slots. Returns true (the test is over).
    pub(super) fn roll_back(&mut self, k: usize, why: &str) -> bool {
        let t = &self.tests[k];
        let (name, store_path, rev, cand, old) = (t.name.clone(), t.store.clone(), t.rev.clone(), t.cand, t.old);
        let r = Store::open(&store_path, false).and_then(|s| {
            let wd = s.workload(&name, false)?;
            let _l = wd.lock(LOCK_WAIT)?;
            let mut st = wd.read_status();
            fault("rollback-begin");
            let _ = st.rollback(&format!("revision {rev}: {why}"), Some(&rev));
            wd.write_status(&mut st)?;
            fault("rollback-status-written");
            Ok(())
        });
        if let Err(e) = r {
            // The status could not be written: the test goes on (tried again at the next
            // wake), the new revision is not trusted meanwhile.
            (self.say)(format_args!("{name}: rolling back revision {rev}: {e}"));
            return false;
        }
        (self.say)(format_args!("{name}: revision {rev} rolled back: {why}"));
        let now = now_ms();
        match old {
            Some(o) => {
                if let Some(c) = self.slots[cand.0].as_mut().filter(|c| c.gen == cand.1) {
                    c.remove = true;
                    let a = c.m.stop(now, Then::Stay);
                    self.act(cand.0, a);
                    self.finish_stopped(cand.0);
                }
                // The old revision runs again if it was stopped.
                if let Some(os) = self.slots[o.0].as_mut().filter(|s| s.gen == o.1) {
                    if !os.exists && self.end.is_none() {
                        let a = os.m.start();
                        self.act(o.0, a);
                    }
                }
            }
            None => {
                // The first deployment failed: the workload stays, with nothing to run.
                if let Some(c) = self.slots[cand.0].as_mut().filter(|c| c.gen == cand.1) {
                    c.undeployed = true;
                    c.last_error = Some(format!("revision {rev} rolled back: {why}; nothing deployed"));
                    let a = c.m.stop(now, Then::Stay);
                    self.act(cand.0, a);
                }
            }
        }
        self.dirty = true;
        self.status_changed = true;
        true
    }

    /// `mote deploy commit` and `rollback` with a supervisor: a test in progress is ended
    /// here; otherwise the status changes and the workload follows (a reload).
    pub(super) fn deploy_request(
        &mut self,
        op: &str,
        name: &str,
        store_path: &str,
        rev: Option<&str>,
    ) -> Result<String, (Kind, String)> {
        if let Some(k) = self.test_index(name) {
            if rev.is_some_and(|r| r != self.tests[k].rev) {
                return Ok(format!(
                    "revision {} is not the one under test: nothing done",
                    rev.unwrap_or("")
                ));
            }
            return if op == "commit" {
                self.commit_test(k, "committed by request")
                    .map(|()| {
                        self.tests.remove(k);
                        String::from("committed")
                    })
                    .map_err(|m| (Kind::Failed, m))
            } else {
                self.roll_back(k, "rolled back by request");
                self.tests.remove(k);
                Ok("rolled back".into())
            };
        }
        let (changed, _) = crate::deploy::change(store_path, name, &mut |st, _| {
            if op == "commit" {
                st.commit("committed by request")
            } else {
                st.rollback("rolled back by request", rev)
            }
        })
        .map_err(|e| (Kind::Failed, format!("{e}")))?;
        if changed && op == "rollback" {
            // The revision to run changed: the reload restarts the workload on it.
            self.reload();
        }
        Ok(if changed {
            format!("{op} done")
        } else {
            format!("nothing to {op}")
        })
    }

    /// The earliest time a test needs the loop.
    pub(super) fn deploy_deadline(&self) -> Option<Ms> {
        self.tests
            .iter()
            .map(|t| match t.healthy_since {
                Some(s) => s + t.commit_after,
                None => t.deadline,
            })
            .min()
    }
}
