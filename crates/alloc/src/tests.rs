use super::*;
use std::cell::Cell;
use std::vec::Vec;

/// A fixed arena standing in for the wasm memory: hands out `bytes` at a time from a 64 KiB
/// aligned buffer until it is used up.
struct Arena {
    base: usize,
    len: usize,
    used: Cell<usize>,
}

impl Arena {
    fn new(len: usize) -> Arena {
        let layout = Layout::from_size_align(len, PAGE).unwrap();
        // SAFETY: a non-zero size; leaked on purpose (tests are short-lived).
        let base = unsafe { std::alloc::alloc(layout) } as usize;
        assert_ne!(base, 0);
        Arena {
            base,
            len,
            used: Cell::new(0),
        }
    }
}

impl Grow for Arena {
    fn grow(&self, bytes: usize) -> Option<usize> {
        assert_eq!(bytes % PAGE, 0, "grows by whole pages");
        let used = self.used.get();
        (used + bytes <= self.len).then(|| {
            self.used.set(used + bytes);
            self.base + used
        })
    }
}

/// A small deterministic generator (xorshift), so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn classes_are_powers_of_two_of_at_least_eight_bytes() {
    let c = |size, align| class(&Layout::from_size_align(size, align).unwrap());
    assert_eq!(c(1, 1), 3);
    assert_eq!(c(8, 8), 3);
    assert_eq!(c(9, 1), 4);
    assert_eq!(c(16, 16), 4);
    assert_eq!(c(3, 16), 4, "the alignment counts as size");
    assert_eq!(c(65536, 1), 16);
    assert_eq!(c(65537, 1), 17);
}

#[test]
fn a_freed_block_serves_the_next_request_of_its_class() {
    let a = SizeClassAlloc::new(Arena::new(4 * PAGE));
    let l = Layout::from_size_align(24, 8).unwrap();
    unsafe {
        let p = a.alloc(l);
        let q = a.alloc(l);
        assert_ne!(p, q);
        a.dealloc(p, l);
        assert_eq!(
            a.alloc(Layout::from_size_align(32, 4).unwrap()),
            p,
            "same class"
        );
        assert_ne!(a.alloc(l), p, "p is handed out again already");
    }
}

#[test]
fn realloc_within_the_class_keeps_the_block_and_across_classes_keeps_the_bytes() {
    let a = SizeClassAlloc::new(Arena::new(4 * PAGE));
    let l = Layout::from_size_align(20, 1).unwrap();
    unsafe {
        let p = a.alloc(l);
        for i in 0..20 {
            *p.add(i) = i as u8;
        }
        assert_eq!(a.realloc(p, l, 32), p);
        let l32 = Layout::from_size_align(32, 1).unwrap();
        let q = a.realloc(p, l32, 1000);
        assert_ne!(q, p);
        for i in 0..20 {
            assert_eq!(*q.add(i), i as u8);
        }
        let l1000 = Layout::from_size_align(1000, 1).unwrap();
        let r = a.realloc(q, l1000, 10);
        for i in 0..10 {
            assert_eq!(*r.add(i), i as u8);
        }
    }
}

#[test]
fn out_of_memory_is_a_null_pointer_not_a_crash() {
    let a = SizeClassAlloc::new(Arena::new(2 * PAGE));
    unsafe {
        assert!(!a.alloc(Layout::from_size_align(PAGE, 8).unwrap()).is_null());
        assert!(a
            .alloc(Layout::from_size_align(4 * PAGE, 8).unwrap())
            .is_null());
        assert!(
            a.alloc(Layout::from_size_align(8, 8192).unwrap()).is_null(),
            "align > MAX_ALIGN"
        );
        assert!(
            !a.alloc(Layout::from_size_align(100, 8).unwrap()).is_null(),
            "still usable"
        );
    }
}

/// Random allocations, frees and reallocations: every live block keeps its bytes, is aligned,
/// and overlaps no other live block.
#[test]
fn random_workload_keeps_blocks_disjoint_aligned_and_intact() {
    let a = SizeClassAlloc::new(Arena::new(512 * PAGE));
    let mut rng = Rng(0x9e3779b97f4a7c15);
    // (ptr, layout, fill byte)
    let mut live: Vec<(*mut u8, Layout, u8)> = Vec::new();
    for step in 0..20_000u32 {
        let op = rng.below(10);
        if op < 5 || live.is_empty() {
            let size = match rng.below(10) {
                0 => 1 + rng.below(70_000) as usize,
                1..=3 => 1 + rng.below(2_000) as usize,
                _ => 1 + rng.below(64) as usize,
            };
            let align = [1, 2, 4, 8, 16, 4096][rng.below(6) as usize];
            let l = Layout::from_size_align(size, align).unwrap();
            let p = unsafe { a.alloc(l) };
            assert!(!p.is_null(), "step {step}: out of arena");
            assert_eq!(p as usize % align, 0, "step {step}: misaligned");
            let fill = step as u8;
            unsafe { core::ptr::write_bytes(p, fill, size) };
            live.push((p, l, fill));
        } else if op < 8 {
            let i = rng.below(live.len() as u64) as usize;
            let (p, l, fill) = live.swap_remove(i);
            for j in 0..l.size() {
                assert_eq!(unsafe { *p.add(j) }, fill, "step {step}: block overwritten");
            }
            unsafe { a.dealloc(p, l) };
        } else {
            let i = rng.below(live.len() as u64) as usize;
            let (p, l, fill) = live[i];
            let new_size = 1 + rng.below(5_000) as usize;
            let q = unsafe { a.realloc(p, l, new_size) };
            assert!(!q.is_null());
            for j in 0..l.size().min(new_size) {
                assert_eq!(
                    unsafe { *q.add(j) },
                    fill,
                    "step {step}: realloc lost bytes"
                );
            }
            unsafe { core::ptr::write_bytes(q, fill, new_size) };
            live[i] = (
                q,
                Layout::from_size_align(new_size, l.align()).unwrap(),
                fill,
            );
        }
        if step % 1000 == 999 {
            let mut spans: Vec<(usize, usize)> = live
                .iter()
                .map(|(p, l, _)| (*p as usize, *p as usize + l.size()))
                .collect();
            spans.sort();
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0, "step {step}: live blocks overlap");
            }
        }
    }
}
