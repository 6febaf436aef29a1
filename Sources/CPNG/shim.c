#include "CPNG.h"
int forger_png_placeholder(void) { return 0; }
