#pragma once
// A small shim over libpng's simplified `png_image` API.
//
// libpng reports errors with longjmp, which Swift cannot survive. The simplified API catches
// its own longjmp internally (png_safe_execute) and returns 0 with a message instead, so these
// functions never unwind through Swift frames: a corrupt or truncated PNG returns 0 and fills
// `message` (NUL-terminated, truncated to `message_size`).
#include <stddef.h>
#include <stdint.h>

/// Decodes a PNG held in memory to 8-bit pixels. Grey -> 1 channel, RGB and palette without
/// transparency -> 3, anything with alpha (grey+alpha, RGBA, palette with tRNS) -> 4 (RGBA).
/// 16-bit samples are reduced to 8 bits; low bit depths are expanded. On success returns 1 and
/// `*pixels` holds width*height*channels bytes (rows packed) that the caller frees with
/// `forger_png_free`. An image that would decode to more than `max_bytes` is refused before
/// its pixels are allocated.
int forger_png_decode(const uint8_t *data, size_t size, size_t max_bytes,
                      uint32_t *width, uint32_t *height, int *channels,
                      uint8_t **pixels, char *message, size_t message_size);

/// Encodes 8-bit pixels (channels 1, 2, 3 or 4; `stride` in bytes) as a PNG in memory.
/// On success returns 1 and `*png` holds `*png_size` bytes that the caller frees with
/// `forger_png_free`.
int forger_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                      size_t stride, uint8_t **png, size_t *png_size,
                      char *message, size_t message_size);

void forger_png_free(void *pointer);
