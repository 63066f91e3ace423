//! The queue of accepted, not yet acknowledged events: bounded by bytes, oldest evicted first.
//!
//! Invariants: events keep the order they were accepted in (`seq` increases from front to
//! back); `bytes` is the sum of the events' JSON lengths and never exceeds `max_bytes` after a
//! push; every event removed by eviction is returned to the caller, who reports it.
//! Each event is kept as its final wire JSON, serialised once when accepted: batch sizes are
//! exact sums, and neither sending nor persisting serialises an event again.
//! A `Vec` of boxes, not a `VecDeque`: every `VecDeque` method used is wasm every visitor
//! downloads. Events leave it still boxed (evicted, removed, cleared), and events restored from
//! storage come in boxed as decoded (`push_boxed`): one list type, and no move out of a box
//! only to drop it or box it again a moment later. The boxes keep removals cheap: a full 1 MiB queue holds ~5,000 events, and an
//! eviction or acknowledgement near the front moves ~20 KB of pointers instead of ~400 KB of
//! events (found in a profile of `track` with a full queue: 14% of the time was that move).

use crate::time::Millis;

/// Identifies one request handed to the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TransmitId(pub u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedEvent {
    /// Acceptance order within this page.
    pub seq: u64,
    /// The `event_id` (UUID v4).
    pub id: String,
    /// The `event_name`, for reports.
    pub name: String,
    /// The event's compact wire JSON.
    pub json: String,
    /// When it was accepted (or first accepted, for an event restored from storage).
    pub enqueued_at: Millis,
    /// The request carrying it, if one is in flight.
    pub in_flight: Option<TransmitId>,
}

impl QueuedEvent {
    /// An event not yet in a queue (`seq` 0, not in flight): restored from storage, or about
    /// to be pushed.
    pub fn new(id: String, name: String, json: String, enqueued_at: Millis) -> Box<QueuedEvent> {
        Box::new(QueuedEvent {
            seq: 0,
            id,
            name,
            json,
            enqueued_at,
            in_flight: None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Queue {
    // Boxed on purpose (see the module doc): removals move pointers, not events.
    #[allow(clippy::vec_box)]
    items: Vec<Box<QueuedEvent>>,
    bytes: usize,
    max_bytes: usize,
    next_seq: u64,
}

impl Queue {
    pub fn new(max_bytes: usize) -> Self {
        Queue {
            items: Vec::new(),
            bytes: 0,
            max_bytes,
            next_seq: 1,
        }
    }

    /// Appends an event, evicting the oldest ones (idle before in flight) until it fits.
    /// Returns the evicted events, oldest first. An event larger than the whole queue evicts
    /// everything and is kept alone: it was accepted, and dropping it silently is never an
    /// option.
    #[allow(clippy::vec_box)]
    pub fn push(
        &mut self,
        id: String,
        name: String,
        json: String,
        enqueued_at: Millis,
    ) -> Vec<Box<QueuedEvent>> {
        self.push_boxed(QueuedEvent::new(id, name, json, enqueued_at))
    }

    /// `push` for an event already boxed (one restored from storage): it gets the next `seq`
    /// and is not in flight.
    #[allow(clippy::vec_box)]
    pub fn push_boxed(&mut self, mut e: Box<QueuedEvent>) -> Vec<Box<QueuedEvent>> {
        let mut evicted = Vec::new();
        let size = e.json.len();
        while self.bytes + size > self.max_bytes && !self.items.is_empty() {
            // The oldest idle event, else the oldest: by index, not `position()`.
            let mut victim = 0;
            while victim < self.items.len() && self.items[victim].in_flight.is_some() {
                victim += 1;
            }
            if victim == self.items.len() {
                victim = 0;
            }
            let e = self.items.remove(victim);
            self.bytes -= e.json.len();
            evicted.push(e);
        }
        e.seq = self.next_seq;
        e.in_flight = None;
        self.next_seq += 1;
        self.bytes += size;
        self.items.push(e);
        evicted
    }

    /// Removes the event `id`, wherever it is.
    pub fn remove(&mut self, id: &str) -> Option<Box<QueuedEvent>> {
        // By index, not `position()` with a closure: less wasm.
        let mut i = 0;
        while self.items.get(i)?.id != id {
            i += 1;
        }
        let e = self.items.remove(i);
        self.bytes -= e.json.len();
        Some(e)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.items.iter().any(|e| e.id == id)
    }

    /// Marks the events `ids` as no longer in flight.
    pub fn release(&mut self, ids: &[String]) {
        for e in self.items.iter_mut() {
            if e.in_flight.is_some() && ids.contains(&e.id) {
                e.in_flight = None;
            }
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &QueuedEvent> {
        self.items.iter().map(|e| &**e)
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut QueuedEvent> {
        self.items.iter_mut().map(|e| &mut **e)
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Sum of the events' JSON lengths.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The `seq` the next pushed event will get.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Removes every event.
    #[allow(clippy::vec_box)]
    pub fn clear(&mut self) -> Vec<Box<QueuedEvent>> {
        self.bytes = 0;
        std::mem::take(&mut self.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(q: &mut Queue, id: &str, bytes: usize) -> Vec<String> {
        let ev = q.push(id.into(), "e".into(), "x".repeat(bytes), Millis(0));
        ev.into_iter().map(|e| e.id).collect()
    }

    #[test]
    fn oldest_events_are_evicted_and_each_eviction_is_returned() {
        let mut q = Queue::new(100);
        assert!(push(&mut q, "a", 40).is_empty());
        assert!(push(&mut q, "b", 40).is_empty());
        assert_eq!(push(&mut q, "c", 40), ["a"]);
        assert_eq!(q.bytes(), 80);
        assert_eq!(push(&mut q, "d", 90), ["b", "c"]);
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn idle_events_are_evicted_before_events_in_flight() {
        let mut q = Queue::new(100);
        push(&mut q, "a", 40);
        push(&mut q, "b", 40);
        q.iter_mut().next().unwrap().in_flight = Some(TransmitId(1));
        assert_eq!(push(&mut q, "c", 40), ["b"]);
        assert!(q.contains("a"));
    }

    #[test]
    fn an_event_larger_than_the_queue_is_kept_alone() {
        let mut q = Queue::new(100);
        push(&mut q, "a", 10);
        assert_eq!(push(&mut q, "huge", 500), ["a"]);
        assert_eq!(q.len(), 1);
        assert_eq!(q.bytes(), 500);
    }

    #[test]
    fn remove_and_release_keep_byte_count() {
        let mut q = Queue::new(1000);
        push(&mut q, "a", 10);
        push(&mut q, "b", 20);
        for e in q.iter_mut() {
            e.in_flight = Some(TransmitId(7));
        }
        q.release(&["b".to_string()]);
        let idle = q.iter().filter(|e| e.in_flight.is_none());
        assert_eq!(idle.map(|e| e.id.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(q.remove("a").unwrap().id, "a");
        assert_eq!(q.bytes(), 20);
        assert!(q.remove("zz").is_none());
    }
}
