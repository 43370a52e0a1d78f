//! Kafka Connect's `IncrementalCooperativeAssignor` as a pure state machine:
//! the leader feeds it the configured connectors/tasks, what every member
//! reports running (its JoinGroup allocation), the generations and the
//! time; it answers each member's incremental assignment and revocations
//! and the delay until the next scheduled rebalance.
//!
//! Rules (as Kafka Connect 3.x/4.x):
//! - deleted connectors/tasks, and instances running on two members, are
//!   revoked;
//! - *lost* work (assigned in the previous round, reported by nobody now)
//!   is not moved at once: a rebalance is scheduled
//!   `scheduled.rebalance.max.delay.ms` ahead (the member may come back);
//!   when it expires the lost work goes to the workers that joined empty
//!   meanwhile, else to the least loaded; with a delay of 0 it moves at
//!   once; when every previous member is still present it is reassigned at
//!   once (a member missed its assignment);
//! - new connectors and tasks go to the least loaded workers (connectors by
//!   connector count, tasks by task count, ties by member id);
//! - load-balancing revocations (take work from over-loaded members so that
//!   each ends with ⌊n/w⌋ or ⌈n/w⌉) happen only when no delay is pending;
//!   successive revoking rounds back off exponentially (1 ms × 40ⁿ, capped
//!   at the max delay);
//! - a revoked instance is not reassigned in the same round: the member
//!   stops it (committing offsets) and rejoins, and the next round places
//!   it, so a handover never runs it twice.

use std::collections::{BTreeMap, BTreeSet};

use super::protocol::ConnectorTaskId;

/// A set of connectors and tasks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectorsAndTasks {
    /// Connector instances.
    pub connectors: BTreeSet<String>,
    /// Tasks.
    pub tasks: BTreeSet<ConnectorTaskId>,
}

impl ConnectorsAndTasks {
    /// True when both sets are empty.
    pub fn is_empty(&self) -> bool {
        self.connectors.is_empty() && self.tasks.is_empty()
    }

    /// The connectors and tasks of `self` that are not in `other`.
    pub fn minus(&self, other: &ConnectorsAndTasks) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: self
                .connectors
                .difference(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.difference(&other.tasks).cloned().collect(),
        }
    }

    /// Adds every connector and task of `other`.
    pub fn add_all(&mut self, other: &ConnectorsAndTasks) {
        self.connectors.extend(other.connectors.iter().cloned());
        self.tasks.extend(other.tasks.iter().cloned());
    }

    fn intersect(&self, other: &ConnectorsAndTasks) -> ConnectorsAndTasks {
        ConnectorsAndTasks {
            connectors: self
                .connectors
                .intersection(&other.connectors)
                .cloned()
                .collect(),
            tasks: self.tasks.intersection(&other.tasks).cloned().collect(),
        }
    }
}

/// What one member gets in a round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberAssignment {
    /// Newly assigned (to start).
    pub assigned: ConnectorsAndTasks,
    /// Revoked (to stop, committing offsets).
    pub revoked: ConnectorsAndTasks,
    /// Everything the member runs after this round (for information).
    pub running: ConnectorsAndTasks,
}

/// The result of a round.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterAssignment {
    /// Per member id.
    pub members: BTreeMap<String, MemberAssignment>,
    /// Milliseconds until the scheduled rebalance (0: none).
    pub delay: i32,
}

#[derive(Debug, Clone)]
struct WorkerLoad {
    worker: String,
    connectors: Vec<String>,
    tasks: Vec<ConnectorTaskId>,
}

/// The leader's assignor with the state it keeps between rounds.
#[derive(Debug, Clone)]
pub struct IncrementalCooperativeAssignor {
    max_delay: i32,
    previous_assignment: ConnectorsAndTasks,
    previous_revocation: ConnectorsAndTasks,
    previous_generation: i32,
    previous_members: BTreeSet<String>,
    scheduled_rebalance: i64,
    delay: i32,
    candidate_workers: BTreeSet<String>,
    revoked_in_previous: bool,
    successive_revoking_rounds: u32,
}

impl IncrementalCooperativeAssignor {
    /// An assignor with `scheduled.rebalance.max.delay.ms` = `max_delay_ms`.
    pub fn new(max_delay_ms: i32) -> IncrementalCooperativeAssignor {
        IncrementalCooperativeAssignor {
            max_delay: max_delay_ms.max(0),
            previous_assignment: ConnectorsAndTasks::default(),
            previous_revocation: ConnectorsAndTasks::default(),
            previous_generation: -1,
            previous_members: BTreeSet::new(),
            scheduled_rebalance: 0,
            delay: 0,
            candidate_workers: BTreeSet::new(),
            revoked_in_previous: false,
            successive_revoking_rounds: 0,
        }
    }

    fn revoking_backoff(&self, n: u32) -> i32 {
        if self.max_delay == 0 {
            return 0;
        }
        let v = 40f64.powi(n as i32);
        (v.min(self.max_delay as f64)) as i32
    }

    fn reset_delay(&mut self) {
        self.candidate_workers.clear();
        self.scheduled_rebalance = 0;
        self.delay = 0;
    }

    /// One rebalance round at `now_ms`: `configured` from the config
    /// snapshot, `members` what each member reports running.
    pub fn perform(
        &mut self,
        now_ms: i64,
        configured: &ConnectorsAndTasks,
        last_completed_generation: i32,
        current_generation: i32,
        members: &BTreeMap<String, ConnectorsAndTasks>,
    ) -> ClusterAssignment {
        if self.previous_generation != last_completed_generation {
            // the previous round did not complete: its view is outdated
            self.previous_assignment = ConnectorsAndTasks::default();
        }
        let mut active = ConnectorsAndTasks::default();
        for m in members.values() {
            active.add_all(m);
        }
        if !self.previous_revocation.is_empty() {
            if !self.previous_revocation.intersect(&active).is_empty() {
                self.previous_assignment = active.clone();
            }
            self.previous_revocation = ConnectorsAndTasks::default();
        }
        let deleted = self.previous_assignment.minus(configured);
        let duplicated = duplicated(members);
        let lost = self.previous_assignment.minus(&active).minus(&deleted);
        let created = configured.minus(&self.previous_assignment).minus(&active);

        let current: BTreeMap<String, ConnectorsAndTasks> = members
            .iter()
            .map(|(w, a)| (w.clone(), a.minus(&deleted)))
            .collect();
        let mut to_revoke: BTreeMap<String, ConnectorsAndTasks> = BTreeMap::new();
        for (w, a) in members {
            let mut r = a.intersect(&deleted);
            r.add_all(&a.intersect(&duplicated));
            if !r.is_empty() {
                to_revoke.insert(w.clone(), r);
            }
        }
        let mut next: Vec<WorkerLoad> = members
            .iter()
            .map(|(w, a)| {
                let keep = to_revoke
                    .get(w)
                    .map(|r| a.minus(r))
                    .unwrap_or_else(|| a.clone());
                WorkerLoad {
                    worker: w.clone(),
                    connectors: keep.connectors.into_iter().collect(),
                    tasks: keep.tasks.into_iter().collect(),
                }
            })
            .collect();

        let lost_to_reassign = self.handle_lost(now_ms, &lost, &mut next);

        if self.delay == 0 {
            let lb = load_balancing_revocations(configured, &next);
            if self.revoked_in_previous && !lb.is_empty() {
                self.successive_revoking_rounds += 1;
                self.delay = self.revoking_backoff(self.successive_revoking_rounds);
                if self.delay != 0 {
                    self.scheduled_rebalance = now_ms + self.delay as i64;
                } else {
                    apply_revocations(&mut to_revoke, &mut next, lb);
                }
            } else if !lb.is_empty() {
                apply_revocations(&mut to_revoke, &mut next, lb);
                self.revoked_in_previous = true;
            } else if self.revoked_in_previous {
                self.revoked_in_previous = false;
                self.successive_revoking_rounds = 0;
            }
        } else {
            self.revoked_in_previous = false;
        }

        let mut to_assign = created;
        to_assign.add_all(&lost_to_reassign);
        assign_connectors(&mut next, to_assign.connectors.iter().cloned());
        assign_tasks(&mut next, to_assign.tasks.iter().cloned());

        let mut out = ClusterAssignment {
            delay: self.delay,
            ..ClusterAssignment::default()
        };
        let mut prev = ConnectorsAndTasks::default();
        for w in &next {
            let now_has = ConnectorsAndTasks {
                connectors: w.connectors.iter().cloned().collect(),
                tasks: w.tasks.iter().cloned().collect(),
            };
            prev.add_all(&now_has);
            let cur = current.get(&w.worker).cloned().unwrap_or_default();
            let revoked = to_revoke.get(&w.worker).cloned().unwrap_or_default();
            out.members.insert(
                w.worker.clone(),
                MemberAssignment {
                    assigned: now_has.minus(&cur),
                    running: now_has.minus(&revoked),
                    revoked,
                },
            );
        }
        for r in to_revoke.values() {
            prev = prev.minus(r);
            self.previous_revocation.add_all(r);
        }
        prev.add_all(&lost);
        self.previous_assignment = prev;
        self.previous_generation = current_generation;
        self.previous_members = members.keys().cloned().collect();
        out
    }

    fn handle_lost(
        &mut self,
        now: i64,
        lost: &ConnectorsAndTasks,
        next: &mut [WorkerLoad],
    ) -> ConnectorsAndTasks {
        if lost.is_empty() && !self.revoked_in_previous {
            self.reset_delay();
            return ConnectorsAndTasks::default();
        }
        let active: BTreeSet<&str> = next.iter().map(|w| w.worker.as_str()).collect();
        if self.scheduled_rebalance <= 0
            && self
                .previous_members
                .iter()
                .all(|m| active.contains(m.as_str()))
        {
            // nobody left: members missed their assignment; give it again
            return lost.clone();
        }
        if self.max_delay == 0 {
            return lost.clone();
        }
        if self.scheduled_rebalance > 0 && now >= self.scheduled_rebalance {
            let candidates: Vec<usize> = next
                .iter()
                .enumerate()
                .filter(|(_, w)| self.candidate_workers.contains(&w.worker))
                .map(|(i, _)| i)
                .collect();
            let mut out = ConnectorsAndTasks::default();
            if candidates.is_empty() {
                out = lost.clone();
            } else {
                for (i, c) in lost.connectors.iter().enumerate() {
                    next[candidates[i % candidates.len()]]
                        .connectors
                        .push(c.clone());
                }
                for (i, t) in lost.tasks.iter().enumerate() {
                    next[candidates[i % candidates.len()]].tasks.push(t.clone());
                }
            }
            self.reset_delay();
            self.revoked_in_previous = false;
            out
        } else {
            self.candidate_workers.extend(
                next.iter()
                    .filter(|w| w.connectors.is_empty() && w.tasks.is_empty())
                    .map(|w| w.worker.clone()),
            );
            self.delay = if now < self.scheduled_rebalance {
                ((self.scheduled_rebalance - now).min(self.max_delay as i64)) as i32
            } else {
                self.max_delay
            };
            self.scheduled_rebalance = now + self.delay as i64;
            ConnectorsAndTasks::default()
        }
    }
}

fn duplicated(members: &BTreeMap<String, ConnectorsAndTasks>) -> ConnectorsAndTasks {
    let mut seen = ConnectorsAndTasks::default();
    let mut dup = ConnectorsAndTasks::default();
    for m in members.values() {
        for c in &m.connectors {
            if !seen.connectors.insert(c.clone()) {
                dup.connectors.insert(c.clone());
            }
        }
        for t in &m.tasks {
            if !seen.tasks.insert(t.clone()) {
                dup.tasks.insert(t.clone());
            }
        }
    }
    dup
}

fn apply_revocations(
    to_revoke: &mut BTreeMap<String, ConnectorsAndTasks>,
    next: &mut [WorkerLoad],
    lb: BTreeMap<String, ConnectorsAndTasks>,
) {
    for (w, r) in lb {
        if let Some(load) = next.iter_mut().find(|l| l.worker == w) {
            load.connectors.retain(|c| !r.connectors.contains(c));
            load.tasks.retain(|t| !r.tasks.contains(t));
        }
        to_revoke.entry(w).or_default().add_all(&r);
    }
}

fn balance<E: Clone + Ord>(
    total: usize,
    loads: &[(String, Vec<E>)],
) -> BTreeMap<String, BTreeSet<E>> {
    let n = loads.len();
    if n == 0 {
        return BTreeMap::new();
    }
    let min = total / n;
    let extra = total % n;
    let at_min = loads.iter().filter(|(_, l)| l.len() == min).count();
    let at_extra = loads.iter().filter(|(_, l)| l.len() == min + 1).count();
    if at_extra == extra && at_min + at_extra == n {
        return BTreeMap::new();
    }
    let mut out = BTreeMap::new();
    let mut allocated_extras = 0;
    for (w, l) in loads {
        if l.len() <= min {
            continue;
        }
        let max = if allocated_extras < extra {
            allocated_extras += 1;
            if l.len() == min + 1 {
                continue;
            }
            min + 1
        } else {
            min
        };
        let revoked: BTreeSet<E> = l.iter().take(l.len() - max).cloned().collect();
        out.insert(w.clone(), revoked);
    }
    out
}

fn load_balancing_revocations(
    configured: &ConnectorsAndTasks,
    workers: &[WorkerLoad],
) -> BTreeMap<String, ConnectorsAndTasks> {
    if workers
        .iter()
        .all(|w| w.connectors.is_empty() && w.tasks.is_empty())
        || configured.is_empty()
    {
        return BTreeMap::new();
    }
    let conns: Vec<(String, Vec<String>)> = workers
        .iter()
        .map(|w| (w.worker.clone(), w.connectors.clone()))
        .collect();
    let tasks: Vec<(String, Vec<ConnectorTaskId>)> = workers
        .iter()
        .map(|w| (w.worker.clone(), w.tasks.clone()))
        .collect();
    let mut out: BTreeMap<String, ConnectorsAndTasks> = BTreeMap::new();
    for (w, c) in balance(configured.connectors.len(), &conns) {
        out.entry(w).or_default().connectors = c;
    }
    for (w, t) in balance(configured.tasks.len(), &tasks) {
        out.entry(w).or_default().tasks = t;
    }
    out
}

fn assign_round_robin<E>(
    workers: &mut [WorkerLoad],
    items: impl Iterator<Item = E>,
    size: fn(&WorkerLoad) -> usize,
    push: fn(&mut WorkerLoad, E),
) {
    let mut items = items.peekable();
    if workers.is_empty() {
        return;
    }
    while items.peek().is_some() {
        workers.sort_by(|a, b| size(a).cmp(&size(b)).then_with(|| a.worker.cmp(&b.worker)));
        let first = size(&workers[0]);
        let up_to = workers
            .iter()
            .position(|w| size(w) > first)
            .unwrap_or(workers.len());
        for w in workers[..up_to].iter_mut() {
            match items.next() {
                Some(e) => push(w, e),
                None => break,
            }
        }
    }
}

fn assign_connectors(workers: &mut [WorkerLoad], items: impl Iterator<Item = String>) {
    assign_round_robin(
        workers,
        items,
        |w| w.connectors.len(),
        |w, c| w.connectors.push(c),
    );
}

fn assign_tasks(workers: &mut [WorkerLoad], items: impl Iterator<Item = ConnectorTaskId>) {
    assign_round_robin(workers, items, |w| w.tasks.len(), |w, t| w.tasks.push(t));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configured(connectors: &[(&str, i32)]) -> ConnectorsAndTasks {
        let mut c = ConnectorsAndTasks::default();
        for (name, n) in connectors {
            c.connectors.insert((*name).into());
            for t in 0..*n {
                c.tasks.insert(ConnectorTaskId {
                    connector: (*name).into(),
                    task: t,
                });
            }
        }
        c
    }

    /// Applies a round's result the way members do: stop revoked, start assigned.
    fn apply(members: &mut BTreeMap<String, ConnectorsAndTasks>, out: &ClusterAssignment) {
        for (m, a) in &out.members {
            let cur = members.entry(m.clone()).or_default();
            *cur = cur.minus(&a.revoked);
            cur.add_all(&a.assigned);
        }
    }

    fn empty(workers: &[&str]) -> BTreeMap<String, ConnectorsAndTasks> {
        workers
            .iter()
            .map(|w| (w.to_string(), Default::default()))
            .collect()
    }

    /// One round, applied by the members.
    fn round(
        a: &mut IncrementalCooperativeAssignor,
        now: i64,
        cfg: &ConnectorsAndTasks,
        last: i32,
        current: i32,
        members: &mut BTreeMap<String, ConnectorsAndTasks>,
    ) -> ClusterAssignment {
        let out = a.perform(now, cfg, last, current, members);
        apply(members, &out);
        out
    }

    fn sizes(members: &BTreeMap<String, ConnectorsAndTasks>) -> Vec<(usize, usize)> {
        members
            .values()
            .map(|m| (m.connectors.len(), m.tasks.len()))
            .collect()
    }

    fn all_of(members: &BTreeMap<String, ConnectorsAndTasks>) -> ConnectorsAndTasks {
        let mut a = ConnectorsAndTasks::default();
        for m in members.values() {
            a.add_all(m);
        }
        a
    }

    #[test]
    fn new_work_goes_to_the_least_loaded() {
        let mut a = IncrementalCooperativeAssignor::new(300_000);
        let cfg = configured(&[("a", 3), ("b", 3)]);
        let mut members = empty(&["w1", "w2", "w3"]);
        let out = a.perform(0, &cfg, -1, 1, &members);
        assert_eq!(out.delay, 0);
        apply(&mut members, &out);
        assert_eq!(all_of(&members), cfg);
        assert_eq!(sizes(&members), vec![(1, 2), (1, 2), (0, 2)]);
        // a new connector goes to the worker without one
        let cfg2 = configured(&[("a", 3), ("b", 3), ("c", 0)]);
        let out = a.perform(1, &cfg2, 1, 2, &members);
        assert!(out.members["w3"].assigned.connectors.contains("c"));
        assert!(out.members.values().all(|m| m.revoked.is_empty()));
    }

    #[test]
    fn lost_work_waits_for_the_delay_then_moves() {
        let mut a = IncrementalCooperativeAssignor::new(10_000);
        let cfg = configured(&[("a", 3), ("b", 3)]);
        let mut members = empty(&["w1", "w2", "w3"]);
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        let lost = members.remove("w2").unwrap();
        // w2 is gone: nothing moves, a rebalance is scheduled
        let out = a.perform(1_000, &cfg, 1, 2, &members);
        assert_eq!(out.delay, 10_000);
        assert!(out
            .members
            .values()
            .all(|m| m.assigned.is_empty() && m.revoked.is_empty()));
        apply(&mut members, &out);
        // before the deadline: still nothing, the remaining delay
        let out = a.perform(5_000, &cfg, 2, 3, &members);
        assert_eq!(out.delay, 6_000);
        assert!(out.members.values().all(|m| m.assigned.is_empty()));
        // after it: the lost work (only it) moves to the least loaded
        let out = a.perform(11_000, &cfg, 3, 4, &members);
        assert_eq!(out.delay, 0);
        let mut moved = ConnectorsAndTasks::default();
        for m in out.members.values() {
            assert!(m.revoked.is_empty(), "nothing else moves");
            moved.add_all(&m.assigned);
        }
        assert_eq!(moved, lost);
        apply(&mut members, &out);
        assert_eq!(all_of(&members), cfg);
    }

    #[test]
    fn lost_work_goes_to_a_worker_that_joined_during_the_delay() {
        let mut a = IncrementalCooperativeAssignor::new(10_000);
        let cfg = configured(&[("a", 4)]);
        let mut members = empty(&["w1", "w2"]);
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        let lost = members.remove("w1").unwrap();
        round(&mut a, 1, &cfg, 1, 2, &mut members);
        members.insert("w9".into(), Default::default()); // the replacement
        let out = a.perform(2, &cfg, 2, 3, &members);
        assert!(out.delay > 0, "still waiting");
        apply(&mut members, &out);
        let out = a.perform(20_000, &cfg, 3, 4, &members);
        assert_eq!(out.members["w9"].assigned, lost);
    }

    #[test]
    fn zero_delay_moves_lost_work_at_once() {
        let mut a = IncrementalCooperativeAssignor::new(0);
        let cfg = configured(&[("a", 2)]);
        let mut members = empty(&["w1", "w2"]);
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        members.remove("w1");
        let out = a.perform(1, &cfg, 1, 2, &members);
        assert_eq!(out.delay, 0);
        apply(&mut members, &out);
        assert_eq!(all_of(&members), cfg);
    }

    #[test]
    fn a_joining_worker_gets_work_by_revocation_then_assignment() {
        let mut a = IncrementalCooperativeAssignor::new(300_000);
        let cfg = configured(&[("a", 4), ("b", 2)]);
        let mut members: BTreeMap<String, ConnectorsAndTasks> =
            [("w1".to_string(), ConnectorsAndTasks::default())].into();
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        assert_eq!(sizes(&members), vec![(2, 6)]);
        members.insert("w2".into(), Default::default());
        // round 1: w1 gives up half; nothing is assigned to w2 yet
        let out = a.perform(1, &cfg, 1, 2, &members);
        assert_eq!(out.members["w1"].revoked.connectors.len(), 1);
        assert_eq!(out.members["w1"].revoked.tasks.len(), 3);
        assert!(out.members["w2"].assigned.is_empty());
        let revoked = out.members["w1"].revoked.clone();
        apply(&mut members, &out);
        // round 2: the revoked work goes to w2
        let out = a.perform(2, &cfg, 2, 3, &members);
        assert_eq!(out.members["w2"].assigned, revoked);
        apply(&mut members, &out);
        assert_eq!(sizes(&members), vec![(1, 3), (1, 3)]);
        assert_eq!(all_of(&members), cfg);
        // balanced: a further round changes nothing
        let out = a.perform(3, &cfg, 3, 4, &members);
        assert!(out
            .members
            .values()
            .all(|m| m.assigned.is_empty() && m.revoked.is_empty()));
    }

    #[test]
    fn no_load_balancing_revocation_while_a_delay_is_pending() {
        let mut a = IncrementalCooperativeAssignor::new(10_000);
        let cfg = configured(&[("a", 6)]);
        let mut members = empty(&["w1", "w2", "w3"]);
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        members.remove("w3");
        members.insert("w4".into(), Default::default());
        members.insert("w5".into(), Default::default());
        let out = a.perform(1, &cfg, 1, 2, &members);
        assert!(out.delay > 0);
        assert!(
            out.members.values().all(|m| m.revoked.is_empty()),
            "{out:?}"
        );
    }

    #[test]
    fn deleted_and_duplicated_work_is_revoked() {
        let mut a = IncrementalCooperativeAssignor::new(10_000);
        let cfg = configured(&[("a", 2), ("b", 1)]);
        let mut members = empty(&["w1", "w2"]);
        round(&mut a, 0, &cfg, -1, 1, &mut members);
        let holder = members
            .iter()
            .find(|(_, m)| m.connectors.contains("b"))
            .unwrap()
            .0
            .clone();
        let out = a.perform(1, &configured(&[("a", 2)]), 1, 2, &members);
        assert!(out.members[&holder].revoked.connectors.contains("b"));
        // a task reported by both members is revoked from both
        let t = ConnectorTaskId {
            connector: "a".into(),
            task: 0,
        };
        for m in members.values_mut() {
            m.tasks.insert(t.clone());
        }
        let mut b = IncrementalCooperativeAssignor::new(10_000);
        let out = b.perform(0, &configured(&[("a", 2), ("b", 1)]), -1, 1, &members);
        assert!(out.members.values().all(|m| m.revoked.tasks.contains(&t)));
    }
}
