// The system libpng (Debian's libpng-dev), used to decode and write PNG images.
#include <png.h>
