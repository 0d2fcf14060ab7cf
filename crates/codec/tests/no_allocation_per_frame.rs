//! The per-frame calls (`encode`, `decode`, `conceal`, `recover`) allocate nothing in steady
//! state: a counting global allocator watches this test's thread. libopus allocates through C's
//! `malloc`, which this cannot see; it allocates only when a coder is created.
// A global allocator cannot be written without `unsafe`; it only forwards to `System`.
#![allow(unsafe_code)]

use attendant_codec::{Decoder, Encoder, OpusSettings, PayloadCodec};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: the allocator also runs while thread-locals are torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

struct Counting;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc` or `realloc`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn per_frame_calls_do_not_allocate() {
    for codec in PayloadCodec::ALL {
        let mut enc = Encoder::new(codec, OpusSettings { inband_fec: true, ..Default::default() })
            .expect("encoder");
        let mut dec = Decoder::new(codec).expect("decoder");
        let frame = codec.frame_samples();
        let pcm: Vec<f32> = (0..frame).map(|n| 0.3 * (n as f32 * 0.05).sin()).collect();
        let mut payload = vec![0u8; 1_500];
        let mut out = vec![0.0f32; 5_760];

        let before = allocations();
        assert!(before > 0, "the counter sees this thread's allocations");
        for i in 0..50 {
            let len = enc.encode(&pcm, &mut payload).expect("encodes");
            if i % 10 == 9 {
                dec.recover(&payload[..len], &mut out);
                dec.conceal(&mut out);
            }
            dec.decode(&payload[..len], &mut out).expect("decodes");
        }
        assert_eq!(allocations(), before, "{codec} allocated per frame");
    }
}
