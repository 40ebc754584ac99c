// The few lines of C between SSLData and the system image libraries (libpng, libjpeg-turbo).
//
// Both libraries report errors by jumping out of the failing call (longjmp; libjpeg's default
// even calls exit()), which Swift cannot catch. These functions set the jump target with
// setjmp, install handlers that jump back to it, and turn every failure into a return code and
// a message: a bad file never crashes or ends the process. Warnings are kept out of stderr.
//
// Decoding, encoding and colour conversion are the libraries' own; nothing here reimplements
// them. Everything else (EXIF orientation, CMYK to RGB, resizing) is Swift, in SSLData.
#ifndef SSL_IMAGE_CODEC_H
#define SSL_IMAGE_CODEC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Return codes of every function below.
enum {
    SSL_IMAGE_OK = 0,
    /// The data is not a valid image (the message says what the library found).
    SSL_IMAGE_CORRUPT = 1,
    /// The data ends before the image does.
    SSL_IMAGE_TRUNCATED = 2,
    /// The image has more pixels than the caller's limit.
    SSL_IMAGE_TOO_LARGE = 3,
    /// A memory allocation failed.
    SSL_IMAGE_OUT_OF_MEMORY = 4,
    /// A valid image of a kind that cannot be converted as asked.
    SSL_IMAGE_UNSUPPORTED = 5,
    /// The caller's arguments are out of range.
    SSL_IMAGE_INVALID_ARGUMENT = 6,
};

/// A decoded image: `height` rows of `width` pixels of `channels` interleaved bytes.
typedef struct {
    int width;
    int height;
    /// 1 (grey), 3 (RGB) or, for CMYK/YCCK JPEGs only, 4 (CMYK, converted by the caller).
    int channels;
    /// For 4-channel JPEGs: whether the file carries an Adobe APP14 marker, whose CMYK values
    /// are stored inverted (Photoshop's convention, which Pillow follows too).
    int adobe_inverted;
    /// The DCT scaling applied by libjpeg (1, 2, 4 or 8: the image was decoded at 1/n size).
    int scale_denominator;
    /// The pixels (malloc'd; released by ssl_image_free).
    unsigned char *pixels;
    /// A JPEG's first APP1 "Exif" payload after its 6-byte "Exif\0\0" prefix (the TIFF
    /// header onwards), malloc'd, or NULL.
    unsigned char *exif;
    size_t exif_length;
    /// What went wrong, when a function returns an error.
    char message[200];
} ssl_decoded_image;

/// Encoded bytes (malloc'd; released by ssl_encoded_free).
typedef struct {
    unsigned char *bytes;
    size_t length;
    char message[200];
} ssl_encoded_data;

/// Decodes a PNG held in memory as `channels` (1 or 3) 8-bit channels: palette and low bit
/// depths expanded, 16-bit reduced to 8, alpha discarded (as Pillow's convert), grey expanded
/// to RGB or RGB reduced to grey (Rec. 601 weights, as Pillow), interlacing undone. Images of
/// more than `maximum_pixels` pixels are refused before any pixel memory is allocated.
int ssl_decode_png(const unsigned char *data, size_t length, int channels, size_t maximum_pixels,
                   ssl_decoded_image *image);

/// Decodes a JPEG held in memory as `channels` (1 or 3) 8-bit channels, or as 4 CMYK channels
/// when the file is CMYK or YCCK. When `minimum_side` > 0, libjpeg's DCT scaling decodes at
/// 1/8, 1/4 or 1/2 size, the smallest whose shorter side is still at least `minimum_side`.
/// The first Exif APP1 payload is returned for the caller to read the orientation from.
/// A file that ends early is an error (SSL_IMAGE_TRUNCATED), not a grey-filled image.
int ssl_decode_jpeg(const unsigned char *data, size_t length, int channels, int minimum_side,
                    size_t maximum_pixels, ssl_decoded_image *image);

/// Reads only the header of a PNG or JPEG held in memory (libpng up to the first image data,
/// libjpeg up to the first scan) and checks it as the decoders would: a known signature, a
/// well-formed header, a colour space that can be converted, at most `maximum_pixels` pixels.
/// Sets `image`'s width, height and channels (the file's own components: 1 to 4) and leaves
/// its pixels NULL: nothing is decoded. SSL_IMAGE_TRUNCATED when the data ends inside the
/// header (a caller holding only the start of a file may retry with all of it).
int ssl_read_image_header(const unsigned char *data, size_t length, size_t maximum_pixels, ssl_decoded_image *image);

/// Releases the buffers of a decoded image (safe on a zeroed or failed one).
void ssl_image_free(ssl_decoded_image *image);

/// Encodes a PNG. `rows` holds `height` rows exactly as PNG stores them once unfiltered:
/// packed for bit depths below 8, big-endian for 16. `color_type` is PNG's (0 grey, 2 RGB,
/// 3 palette, 4 grey+alpha, 6 RGBA). `palette` holds `palette_count` RGB triples and
/// `transparency` `transparency_count` alpha values (palette images only; may be NULL).
/// `compression_level` is zlib's 0–9.
int ssl_encode_png(const unsigned char *rows, int width, int height, int color_type, int bit_depth,
                   int interlaced, const unsigned char *palette, int palette_count,
                   const unsigned char *transparency, int transparency_count, int compression_level,
                   ssl_encoded_data *output);

/// Encodes a JPEG of `components` (1 grey, 3 RGB, 4 CMYK) interleaved 8-bit channels at
/// `quality` (1–100), baseline or progressive. CMYK is stored as YCCK when `ycck` is set, and
/// always with libjpeg's Adobe marker. `app1` (when not NULL) is written as an APP1 segment
/// right after the start of the file (for an Exif block: "Exif\0\0" then a TIFF structure).
int ssl_encode_jpeg(const unsigned char *pixels, int width, int height, int components, int quality,
                    int progressive, int ycck, const unsigned char *app1, size_t app1_length,
                    ssl_encoded_data *output);

/// Releases encoded bytes (safe on a zeroed or failed output).
void ssl_encoded_free(ssl_encoded_data *output);

/// The versions of the linked libraries ("libpng 1.6.39, libjpeg-turbo 2.1.5"), for logs.
const char *ssl_image_library_versions(void);

#ifdef __cplusplus
}
#endif

#endif
