//! Copying bytes out of JavaScript buffers.

use rquickjs::{ArrayBuffer, TypedArray, Value};

/// A copy of the bytes of an `ArrayBuffer` or `Uint8Array`; `None` for other
/// values and for detached buffers.
pub(crate) fn copy_bytes(value: &Value<'_>) -> Option<Vec<u8>> {
    if let Ok(view) = TypedArray::<u8>::from_value(value.clone()) {
        return copy_view(&view);
    }
    let buffer = ArrayBuffer::from_value(value.clone())?;
    copy_buffer(&buffer)
}

// SAFETY: the slice is copied at once, while this thread holds the runtime
// (every `Value` is only usable under its lock): no script runs in between
// that could detach or resize the buffer.
#[allow(unsafe_code)]
fn copy_view(view: &TypedArray<'_, u8>) -> Option<Vec<u8>> {
    unsafe { view.as_bytes() }.map(<[u8]>::to_vec)
}

// SAFETY: as for `copy_view`.
#[allow(unsafe_code)]
fn copy_buffer(buffer: &ArrayBuffer<'_>) -> Option<Vec<u8>> {
    unsafe { buffer.as_bytes() }.map(<[u8]>::to_vec)
}
