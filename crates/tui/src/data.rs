//! Reading the database into a [`Snapshot`], through core's read models,
//! and keeping it current without re-reading it whole.
//!
//! Each screen owns a [`Part`] of the snapshot: what it reads, through
//! which core read model, and which changes concern it. A change announced
//! on a live channel (an event's workflow and entity, or a metric) is
//! handed to the parts it concerns, which re-read only what it names; a
//! part that reads something expensive says how often at most. Nothing is
//! read on a timer except the engine's heartbeat, so an idle control room
//! leaves the database idle.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vivid_core::engine::events::Change;
use vivid_core::{Ctx, Result};

use crate::screens;
use crate::snapshot::Snapshot;

/// A part's data, whatever its type (each screen downcasts its own).
pub type PartData = Arc<dyn Any + Send + Sync>;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One screen's share of the snapshot.
pub trait Part: Send + Sync {
    /// Does this change concern the part?
    fn concerns(&self, change: &Change) -> bool;

    /// At most this often: changes arriving faster are read in one batch.
    fn every(&self) -> Duration {
        Duration::ZERO
    }

    /// Read again after this long even without a change (figures that move
    /// without events, e.g. a running experiment's traffic); `None`: never.
    fn poll(&self, _data: &PartData) -> Option<Duration> {
        None
    }

    /// Read the part: whole when `previous` is None, else bring `previous`
    /// up to date with `changes` (the ones that concern it, oldest first).
    fn load<'a>(
        &'a self,
        ctx: &'a Ctx,
        operator: &'a str,
        previous: Option<PartData>,
        changes: &'a [Change],
    ) -> BoxFuture<'a, Result<PartData>>;
}

/// The previous data of a part, as its own type, to update.
pub fn previous<T: Clone + 'static>(data: Option<PartData>) -> Option<T> {
    data.and_then(|d| d.downcast_ref::<T>().cloned())
}

/// A change no event carries: time for the engine's heartbeat to be read.
pub fn heartbeat() -> Change {
    Change {
        id: None,
        workflow: "engine".into(),
        entity_type: "heartbeat".into(),
        entity_id: String::new(),
        action: "heartbeat".into(),
    }
}

struct Slot {
    part: &'static dyn Part,
    data: Option<PartData>,
    /// Changes not read yet.
    pending: Vec<Change>,
    last_read: Option<Instant>,
}

impl Slot {
    /// How long until this part should be read; `None`: nothing to read.
    fn due_in(&self) -> Option<Duration> {
        let since = self.last_read.map(|at| at.elapsed());
        let changed = (!self.pending.is_empty()).then(|| match since {
            Some(since) => self.part.every().saturating_sub(since),
            None => Duration::ZERO,
        });
        let polled = self
            .data
            .as_ref()
            .and_then(|d| self.part.poll(d))
            .map(|every| every.saturating_sub(since.unwrap_or(every)));
        match (changed, polled) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Reads snapshots: whole at first and after a reconnect, then part by part
/// as changes arrive.
pub struct Loader {
    operator: String,
    slots: Vec<Slot>,
    organisation: String,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("operator", &self.operator)
            .field("parts", &self.slots.len())
            .finish()
    }
}

impl Loader {
    pub fn new(operator: impl Into<String>) -> Self {
        let slots = screens::all()
            .iter()
            .filter_map(|s| s.part())
            .map(|part| Slot {
                part,
                data: None,
                pending: Vec::new(),
                last_read: None,
            })
            .collect();
        Self {
            operator: operator.into(),
            slots,
            organisation: String::new(),
        }
    }

    /// Forget what was read: the next load reads everything (after a
    /// reconnect, notifications may have been lost).
    pub fn reset(&mut self) {
        for slot in &mut self.slots {
            slot.data = None;
            slot.pending.clear();
            slot.last_read = None;
        }
    }

    /// Read every part whole.
    pub async fn load(&mut self, ctx: &Ctx) -> Result<Snapshot> {
        let started = Instant::now();
        self.organisation = ctx.org.name.clone();
        for slot in &mut self.slots {
            slot.pending.clear();
            slot.data = Some(slot.part.load(ctx, &self.operator, None, &[]).await?);
            slot.last_read = Some(Instant::now());
        }
        Ok(self.snapshot(ctx, started))
    }

    /// Hand changes to the parts they concern (read later by [`Self::refresh`]).
    pub fn note(&mut self, changes: &[Change]) {
        for slot in &mut self.slots {
            slot.pending
                .extend(changes.iter().filter(|c| slot.part.concerns(c)).cloned());
        }
    }

    /// How long until a part has something to read (pending changes past
    /// its throttle, or its poll).
    pub fn due_in(&self) -> Option<Duration> {
        self.slots.iter().filter_map(Slot::due_in).min()
    }

    /// Read the parts whose changes are due; `None` when nothing was read.
    pub async fn refresh(&mut self, ctx: &Ctx) -> Result<Option<Snapshot>> {
        let started = Instant::now();
        let mut read = false;
        for slot in &mut self.slots {
            if slot.due_in().is_none_or(|d| !d.is_zero()) {
                continue;
            }
            let changes = std::mem::take(&mut slot.pending);
            let data = slot
                .part
                .load(ctx, &self.operator, slot.data.clone(), &changes)
                .await?;
            slot.data = Some(data);
            slot.last_read = Some(Instant::now());
            read = true;
        }
        Ok(read.then(|| self.snapshot(ctx, started)))
    }

    fn snapshot(&self, ctx: &Ctx, started: Instant) -> Snapshot {
        let mut snap = Snapshot::new(Some(ctx.now()), self.organisation.clone());
        snap.read_time = started.elapsed();
        for data in self.slots.iter().filter_map(|s| s.data.clone()) {
            snap.set_part(data);
        }
        snap
    }
}
