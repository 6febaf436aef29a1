#pragma once
// SHA-256 block compression with the x86 SHA extensions (SHA-NI), for hashing model weights.
// ModelIO's Swift SHA256 calls it for whole 64-byte blocks when the CPU has the instructions
// and keeps its own portable compression otherwise; both give the same digest (tested).
#include <stddef.h>
#include <stdint.h>

/// The 64 round constants K of FIPS 180-4, shared with the portable Swift compression.
const uint32_t *forger_sha256_round_constants(void);

/// 1 when this CPU (and this build) can run `forger_sha256_blocks`, else 0.
int forger_sha256_hardware(void);

/// Compresses `blocks` consecutive 64-byte blocks of `data` into `state` (H0..H7, FIPS 180-4
/// order). Only call it when `forger_sha256_hardware()` returned 1.
void forger_sha256_blocks(uint32_t state[8], const uint8_t *data, size_t blocks);
