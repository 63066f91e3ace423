//! A size-class allocator for the shipped wasm: about half a kilobyte of code where the
//! default dlmalloc costs several (every visitor of every site downloads it), and O(1)
//! allocation and free, which `track`'s hot path needs.
//!
//! How it works: every request is rounded up to a power of two (at least 8 bytes, at least its
//! alignment), its *class*. A freed block goes on its class's free list and serves the next
//! request of that class; otherwise blocks are cut from a bump region that grows the wasm
//! memory as needed. Blocks are never split or merged.
//!
//! Invariants:
//! - a block of class `k` is `2^k` bytes and aligned to `min(2^k, MAX_ALIGN)`, so any layout
//!   whose class is `k` and whose alignment is at most `MAX_ALIGN` fits in it;
//! - a block is on at most one free list, and only while it is not handed out;
//! - `realloc` keeps the block when the new size has the same class (a growing `String` or
//!   `Vec` doubles, so this is the common case and costs no copy).
//!
//! The price is memory: up to twice what is asked for, and a class's blocks are kept for that
//! class. The tracker's memory is bounded by its queue (`maxQueueBytes`, 1 MiB by default), so
//! this stays within a few MiB.
//!
//! Single-threaded only (wasm32 without threads): [`SizeClassAlloc`] is `Sync` because
//! `GlobalAlloc` demands it, not because it is safe to share between threads.

#![no_std]

#[cfg(test)]
extern crate std;

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr::null_mut;

/// The largest alignment a block gets; larger requests fail (Rust on wasm asks for 16 at most).
pub const MAX_ALIGN: usize = 4096;
/// The smallest block: a free block holds the next pointer of its list.
const MIN_CLASS: u32 = 3;
const CLASSES: usize = usize::BITS as usize;

/// Where new memory comes from: the wasm memory itself, or a fixed arena in host tests.
pub trait Grow {
    /// Makes `bytes` (a multiple of 64 KiB) more memory available and returns its start, or
    /// `None` when no more memory can be had.
    fn grow(&self, bytes: usize) -> Option<usize>;
}

/// The wasm memory: `memory.grow`, whose new pages follow the old end.
#[cfg(target_arch = "wasm32")]
pub struct WasmMemory;

#[cfg(target_arch = "wasm32")]
impl Grow for WasmMemory {
    fn grow(&self, bytes: usize) -> Option<usize> {
        let old_pages = core::arch::wasm32::memory_grow(0, bytes / PAGE);
        (old_pages != usize::MAX).then(|| old_pages * PAGE)
    }
}

/// The wasm page size: memory grows by whole pages.
pub const PAGE: usize = 65536;

struct State {
    /// The head of each class's free list (0: empty); a free block's first word is the next.
    free: [usize; CLASSES],
    /// The bump region `[next, end)`.
    next: usize,
    end: usize,
}

pub struct SizeClassAlloc<G: Grow> {
    state: UnsafeCell<State>,
    grow: G,
}

// SAFETY: the allocator is only used on single-threaded wasm (see the module doc).
unsafe impl<G: Grow> Sync for SizeClassAlloc<G> {}

/// The class of a layout: log2 of its block size.
fn class(layout: &Layout) -> u32 {
    let n = layout.size().max(layout.align()).max(1 << MIN_CLASS);
    usize::BITS - (n - 1).leading_zeros()
}

impl<G: Grow> SizeClassAlloc<G> {
    pub const fn new(grow: G) -> Self {
        SizeClassAlloc {
            state: UnsafeCell::new(State {
                free: [0; CLASSES],
                next: 0,
                end: 0,
            }),
            grow,
        }
    }

    /// A fresh block of class `k` from the bump region, growing memory when it is used up.
    fn bump(&self, st: &mut State, k: u32) -> *mut u8 {
        let size = 1usize << k;
        let align = size.min(MAX_ALIGN);
        let start = (st.next + align - 1) & !(align - 1);
        if start + size > st.end {
            let need = size + align;
            let bytes = need.div_ceil(PAGE) * PAGE;
            let Some(base) = self.grow.grow(bytes) else {
                return null_mut();
            };
            if base != st.end {
                // Not contiguous with the old region (or the first growth): start over there
                // and leave the old region's tail unused.
                st.next = base;
            }
            st.end = base + bytes;
            return self.bump(st, k);
        }
        st.next = start + size;
        start as *mut u8
    }
}

unsafe impl<G: Grow> GlobalAlloc for SizeClassAlloc<G> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.align() > MAX_ALIGN {
            return null_mut();
        }
        let k = class(&layout);
        if k as usize >= CLASSES - 1 {
            return null_mut();
        }
        // SAFETY: single-threaded, and no reference to the state outlives this call.
        let st = unsafe { &mut *self.state.get() };
        let head = st.free[k as usize];
        if head != 0 {
            // SAFETY: `head` is a free block of class k; its first word is the next free one.
            st.free[k as usize] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        self.bump(st, k)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let k = class(&layout) as usize;
        // SAFETY: as in alloc; `ptr` is a block of class k that the caller gives back, at least
        // 8 bytes and aligned for a usize.
        let st = unsafe { &mut *self.state.get() };
        unsafe { *(ptr as *mut usize) = st.free[k] };
        st.free[k] = ptr as usize;
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees a valid layout for the new size.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if class(&new_layout) == class(&layout) {
            return ptr;
        }
        // SAFETY: as GlobalAlloc's own default realloc.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests;
