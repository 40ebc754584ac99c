// The system libjpeg-turbo (Debian's libjpeg62-turbo-dev), used to decode and write JPEG images.
// jpeglib.h needs size_t and FILE declared first.
#include <stddef.h>
#include <stdio.h>
#include <jpeglib.h>
