// giflib 5 (Debian: libgif-dev). giflib reports errors through return codes, never longjmp.
#include <gif_lib.h>
