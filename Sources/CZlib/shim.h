// The system zlib (Debian's zlib1g-dev), used to read gzip-compressed datasets.
#include <zlib.h>
