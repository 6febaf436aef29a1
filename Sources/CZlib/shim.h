// zlib (Debian: zlib1g-dev): crc32 and raw inflate for zip containers.
#include <zlib.h>
