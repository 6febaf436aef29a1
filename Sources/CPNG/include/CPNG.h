#pragma once
// Placeholder until the imaging work lands.
int forger_png_placeholder(void);
