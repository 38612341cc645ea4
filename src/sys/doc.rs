//! Owned documents: a parsed value together with the heap buffers it borrows from.
//!
//! mote parses once and borrows: the model of a config.json holds `&str`s into the file's
//! buffer (and into an arena where escaped strings were unescaped). A process that runs for
//! years (the supervisor) must own what it loads and free it when done, so the buffers and the
//! model live and die together in an [`Owned`]. The caller sees the model with a lifetime tied
//! to the `Owned` (`get`), never `'static`.

use crate::prelude::*;

use core::mem::ManuallyDrop;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by a process that is about to exit anyway (the CLI): documents are then not freed when
/// dropped, which would cost munmap calls for nothing. A long-running caller (the supervisor)
/// never sets it.
static EXITING_SOON: AtomicBool = AtomicBool::new(false);

/// Tell the library this process exits soon after its one operation: dropped documents keep
/// their memory (the kernel takes it back at exit).
pub fn exiting_soon() {
    EXITING_SOON.store(true, Ordering::Relaxed);
}

/// A document type: `Of<'a>` is its parsed form, borrowing from buffers that live for `'a`.
///
/// # Safety
/// `Of<'a>` must be covariant in `'a` (no `Cell<&'a T>`, no `&'a mut`, no `fn(&'a T)`):
/// [`Owned::get`] hands out `&Of<'s>` for a value made as `Of<'static>`. Each implementation
/// proves it with a function that only compiles for a covariant type (see `spec`).
pub unsafe trait Family {
    type Of<'a>;
}

/// A parsed document and the buffers it borrows from: the input and the unescape arena.
pub struct Owned<F: Family> {
    // Dropped first (in Drop, explicitly), while the buffers it points into still exist.
    value: ManuallyDrop<F::Of<'static>>,
    input: NonNull<[u8]>,
    arena: NonNull<[u8]>,
}

impl<F: Family> Owned<F> {
    /// Parse `input` with `parse`, which gets the input and a zeroed arena of `arena_len`
    /// bytes; on success the result owns both buffers, on failure they are freed.
    pub fn parse<E>(
        input: Vec<u8>,
        arena_len: usize,
        parse: impl for<'a> FnOnce(&'a [u8], &'a mut [u8]) -> Result<F::Of<'a>, E>,
    ) -> Result<Self, E> {
        let input = NonNull::from(Box::leak(input.into_boxed_slice()));
        let arena = NonNull::from(Box::leak(vec![0u8; arena_len].into_boxed_slice()));
        // SAFETY: both buffers were just leaked from boxes: valid, aligned, and referenced by
        // nothing else. The references made here live no longer than the buffers, which are
        // freed only below on failure (when `parse` and its borrows are over: E cannot borrow
        // from them, it is chosen outside the `for<'a>`) or by Drop after the value.
        let r = unsafe { parse(input.as_ref(), &mut *arena.as_ptr()) };
        match r {
            Ok(v) => {
                let v = ManuallyDrop::new(v);
                // SAFETY: the same type with a longer lifetime parameter (same layout). The value
                // is only ever seen through `get`, which shortens the lifetime again to the
                // borrow of `self`; the buffers it points into live as long as `self`.
                let value = unsafe { core::ptr::read(&*v as *const F::Of<'_> as *const F::Of<'static>) };
                Ok(Owned {
                    value: ManuallyDrop::new(value),
                    input,
                    arena,
                })
            }
            Err(e) => {
                // SAFETY: the buffers came from Box::leak above and nothing refers to them now.
                unsafe {
                    drop(Box::from_raw(input.as_ptr()));
                    drop(Box::from_raw(arena.as_ptr()));
                }
                Err(e)
            }
        }
    }

    /// The document, borrowed for as long as `self` is.
    pub fn get(&self) -> &F::Of<'_> {
        // SAFETY: `F::Of` is covariant in its lifetime (the `Family` contract), so viewing an
        // `Of<'static>` as an `Of<'s>` for the borrow `'s` of self is sound; the buffers outlive
        // the borrow.
        unsafe { &*(&*self.value as *const F::Of<'static> as *const F::Of<'_>) }
    }

    /// The input text the document was parsed from.
    pub fn input(&self) -> &[u8] {
        // SAFETY: the input buffer lives as long as self and is never written.
        unsafe { self.input.as_ref() }
    }
}

impl<F: Family> Drop for Owned<F> {
    fn drop(&mut self) {
        if EXITING_SOON.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: the value is dropped exactly once, here, before the buffers it borrows from;
        // the buffers came from Box::leak in `parse` and are freed exactly once.
        unsafe {
            ManuallyDrop::drop(&mut self.value);
            drop(Box::from_raw(self.input.as_ptr()));
            drop(Box::from_raw(self.arena.as_ptr()));
        }
    }
}
