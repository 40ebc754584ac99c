// See include/ImageCodec.h. The pattern throughout: the public function owns a context struct
// (in its own frame) holding everything that changes while the library runs; a `noinline`
// helper sets the jump target and drives the library; the library's error handler records a
// code and message in the context and jumps back; the public function cleans up. Because the
// state that changes lives in the caller's frame and is reached through a pointer, nothing the
// cleanup reads is a register-held local of the function that called setjmp.
#include "ImageCodec.h"

#include <limits.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>
#include <jpeglib.h>
#include <jerror.h>

#define SSL_STRINGIFY2(x) #x
#define SSL_STRINGIFY(x) SSL_STRINGIFY2(x)

/// More scans than any real progressive JPEG has (they have about ten); a file with more is
/// refused instead of decoded for minutes (djpeg's -maxscans guards the same way).
#define SSL_JPEG_MAXIMUM_SCANS 500

static int set_failure(char *message, size_t capacity, int code, const char *text) {
    snprintf(message, capacity, "%s", text);
    return code;
}

const char *ssl_image_library_versions(void) {
#ifdef LIBJPEG_TURBO_VERSION
    return "libpng " PNG_LIBPNG_VER_STRING ", libjpeg-turbo " SSL_STRINGIFY(LIBJPEG_TURBO_VERSION);
#else
    return "libpng " PNG_LIBPNG_VER_STRING ", libjpeg " SSL_STRINGIFY(JPEG_LIB_VERSION);
#endif
}

void ssl_image_free(ssl_decoded_image *image) {
    if (image == NULL) return;
    free(image->pixels);
    free(image->exif);
    image->pixels = NULL;
    image->exif = NULL;
    image->exif_length = 0;
}

void ssl_encoded_free(ssl_encoded_data *output) {
    if (output == NULL) return;
    free(output->bytes);
    output->bytes = NULL;
    output->length = 0;
}

// MARK: - libpng plumbing

typedef struct {
    int code;
    char *message;
    size_t capacity;
} png_failure;

typedef struct {
    const unsigned char *data;
    size_t length;
    size_t offset;
} png_memory_reader;

typedef struct {
    unsigned char *bytes;
    size_t length;
    size_t capacity;
} png_memory_writer;

static void png_failed(png_structp png, png_const_charp message) {
    png_failure *failure = (png_failure *)png_get_error_ptr(png);
    if (failure->code == SSL_IMAGE_OK) {
        failure->code = (message != NULL && strstr(message, "memory") != NULL) ? SSL_IMAGE_OUT_OF_MEMORY
                                                                                 : SSL_IMAGE_CORRUPT;
    }
    snprintf(failure->message, failure->capacity, "%s", message != NULL ? message : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_warned(png_structp png, png_const_charp message) {
    (void)png;
    (void)message;  // warnings (bad ancillary chunks, benign errors) are not the caller's problem
}

static void png_read_from_memory(png_structp png, png_bytep output, size_t count) {
    png_memory_reader *reader = (png_memory_reader *)png_get_io_ptr(png);
    if (count > reader->length - reader->offset) {
        png_failure *failure = (png_failure *)png_get_error_ptr(png);
        failure->code = SSL_IMAGE_TRUNCATED;
        char text[120];
        snprintf(text, sizeof text, "the data ends after %zu bytes, before the end of the image", reader->length);
        png_error(png, text);
    }
    memcpy(output, reader->data + reader->offset, count);
    reader->offset += count;
}

static void png_write_to_memory(png_structp png, png_bytep data, size_t count) {
    png_memory_writer *writer = (png_memory_writer *)png_get_io_ptr(png);
    if (count > writer->capacity - writer->length) {
        size_t capacity = writer->capacity < 4096 ? 4096 : writer->capacity;
        while (capacity - writer->length < count) {
            if (capacity > SIZE_MAX / 2) png_error(png, "out of memory (output too large)");
            capacity *= 2;
        }
        unsigned char *grown = (unsigned char *)realloc(writer->bytes, capacity);
        if (grown == NULL) png_error(png, "out of memory while writing");
        writer->bytes = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->bytes + writer->length, data, count);
    writer->length += count;
}

static void png_flush_nothing(png_structp png) { (void)png; }

// MARK: - PNG decoding

typedef struct {
    png_structp png;
    png_infop info;
    png_failure failure;
    png_memory_reader reader;
    png_bytep *rows;
    ssl_decoded_image *image;
} png_decode_context;

__attribute__((noinline)) static int png_decode_run(png_decode_context *context, int channels, size_t maximum_pixels) {
    png_structp png = context->png;
    png_infop info = context->info;
    if (setjmp(png_jmpbuf(png))) return context->failure.code;

    png_set_read_fn(png, &context->reader, png_read_from_memory);
#if defined(PNG_IGNORE_ADLER32) && defined(PNG_SET_OPTION_SUPPORTED)
    // Each IDAT chunk's CRC already covers the compressed bytes; zlib's Adler-32 over the
    // inflated bytes would cost another 6-13% of the decode for nothing more.
    png_set_option(png, PNG_IGNORE_ADLER32, PNG_OPTION_ON);
#endif
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, NULL, NULL);
    if (width == 0 || height == 0 || (uint64_t)width * height > (uint64_t)maximum_pixels) {
        snprintf(context->image->message, sizeof context->image->message,
                 "%u×%u pixels is more than the limit of %zu pixels", (unsigned)width, (unsigned)height, maximum_pixels);
        return SSL_IMAGE_TOO_LARGE;
    }

    // The library's own transforms, in its documented order of effect.
    if (bit_depth == 16) png_set_strip_16(png);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    png_set_strip_alpha(png);  // alpha (and a palette's tRNS alpha) discarded, as Pillow's convert
    int is_grey = (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA);
    if (channels == 3 && is_grey) png_set_gray_to_rgb(png);
    if (channels == 1 && !is_grey) png_set_rgb_to_gray_fixed(png, 1, 29900, 58700);  // Rec. 601, as Pillow's "L"
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    if ((int)png_get_channels(png, info) != channels || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)width * (size_t)channels) {
        snprintf(context->image->message, sizeof context->image->message,
                 "libpng produced %d channels of %d bits instead of %d of 8",
                 (int)png_get_channels(png, info), (int)png_get_bit_depth(png, info), channels);
        return SSL_IMAGE_UNSUPPORTED;
    }
    size_t stride = (size_t)width * (size_t)channels;
    context->image->pixels = (unsigned char *)malloc(stride * height);
    context->rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (context->image->pixels == NULL || context->rows == NULL) {
        snprintf(context->image->message, sizeof context->image->message,
                 "cannot allocate %zu bytes for %u×%u pixels", stride * height, (unsigned)width, (unsigned)height);
        return SSL_IMAGE_OUT_OF_MEMORY;
    }
    for (png_uint_32 y = 0; y < height; y++) context->rows[y] = context->image->pixels + (size_t)y * stride;
    png_read_image(png, context->rows);
    png_read_end(png, NULL);  // a file cut after its pixel data is still truncated
    context->image->width = (int)width;
    context->image->height = (int)height;
    context->image->channels = channels;
    return SSL_IMAGE_OK;
}

int ssl_decode_png(const unsigned char *data, size_t length, int channels, size_t maximum_pixels,
                   ssl_decoded_image *image) {
    memset(image, 0, sizeof *image);
    image->scale_denominator = 1;
    char *message = image->message;
    size_t capacity = sizeof image->message;
    if (channels != 1 && channels != 3) return set_failure(message, capacity, SSL_IMAGE_INVALID_ARGUMENT, "channels must be 1 or 3");
    if (data == NULL || length < 8 || png_sig_cmp((png_const_bytep)data, 0, 8) != 0) {
        return set_failure(message, capacity, SSL_IMAGE_CORRUPT, "the PNG signature is missing");
    }
    png_decode_context context;
    memset(&context, 0, sizeof context);
    context.failure.message = message;
    context.failure.capacity = capacity;
    context.reader.data = data;
    context.reader.length = length;
    context.image = image;
    context.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context.failure, png_failed, png_warned);
    if (context.png == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
    context.info = png_create_info_struct(context.png);
    if (context.info == NULL) {
        png_destroy_read_struct(&context.png, NULL, NULL);
        return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
    }
    int code = png_decode_run(&context, channels, maximum_pixels);
    png_destroy_read_struct(&context.png, &context.info, NULL);
    free(context.rows);
    if (code != SSL_IMAGE_OK) {
        ssl_image_free(image);
        image->width = image->height = image->channels = 0;
    }
    return code;
}

// MARK: - PNG encoding

typedef struct {
    png_structp png;
    png_infop info;
    png_failure failure;
    png_memory_writer writer;
    png_bytep *rows;
} png_encode_context;

__attribute__((noinline)) static int png_encode_run(png_encode_context *context, const unsigned char *rows, int width,
                                                    int height, int color_type, int bit_depth, int interlaced,
                                                    const unsigned char *palette, int palette_count,
                                                    const unsigned char *transparency, int transparency_count,
                                                    int compression_level) {
    png_structp png = context->png;
    png_infop info = context->info;
    if (setjmp(png_jmpbuf(png))) return context->failure.code;

    png_set_write_fn(png, &context->writer, png_write_to_memory, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth, color_type,
                 interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (palette != NULL && palette_count > 0) {
        png_color colors[256];
        for (int i = 0; i < palette_count && i < 256; i++) {
            colors[i].red = palette[3 * i];
            colors[i].green = palette[3 * i + 1];
            colors[i].blue = palette[3 * i + 2];
        }
        png_set_PLTE(png, info, colors, palette_count > 256 ? 256 : palette_count);
    }
    if (transparency != NULL && transparency_count > 0) {
        png_set_tRNS(png, info, (png_const_bytep)transparency, transparency_count, NULL);
    }
    png_set_compression_level(png, compression_level);
    png_write_info(png, info);
    size_t stride = png_get_rowbytes(png, info);
    context->rows = (png_bytep *)malloc(sizeof(png_bytep) * (size_t)height);
    if (context->rows == NULL) png_error(png, "out of memory for row pointers");
    for (int y = 0; y < height; y++) context->rows[y] = (png_bytep)(rows + (size_t)y * stride);
    png_write_image(png, context->rows);  // handles the Adam7 passes when interlaced
    png_write_end(png, NULL);
    return SSL_IMAGE_OK;
}

int ssl_encode_png(const unsigned char *rows, int width, int height, int color_type, int bit_depth,
                   int interlaced, const unsigned char *palette, int palette_count,
                   const unsigned char *transparency, int transparency_count, int compression_level,
                   ssl_encoded_data *output) {
    memset(output, 0, sizeof *output);
    char *message = output->message;
    size_t capacity = sizeof output->message;
    if (rows == NULL || width <= 0 || height <= 0 || compression_level < 0 || compression_level > 9 ||
        palette_count < 0 || palette_count > 256 || transparency_count < 0 || transparency_count > 256) {
        return set_failure(message, capacity, SSL_IMAGE_INVALID_ARGUMENT, "invalid PNG encoding arguments");
    }
    png_encode_context context;
    memset(&context, 0, sizeof context);
    context.failure.message = message;
    context.failure.capacity = capacity;
    context.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &context.failure, png_failed, png_warned);
    if (context.png == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
    context.info = png_create_info_struct(context.png);
    if (context.info == NULL) {
        png_destroy_write_struct(&context.png, NULL);
        return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
    }
    int code = png_encode_run(&context, rows, width, height, color_type, bit_depth, interlaced, palette,
                              palette_count, transparency, transparency_count, compression_level);
    png_destroy_write_struct(&context.png, &context.info);
    free(context.rows);
    if (code == SSL_IMAGE_OK) {
        output->bytes = context.writer.bytes;
        output->length = context.writer.length;
    } else {
        free(context.writer.bytes);
    }
    return code;
}

// MARK: - libjpeg plumbing

typedef struct {
    struct jpeg_error_mgr manager;  // first, so libjpeg's `err` pointer is this struct's address
    jmp_buf jump;
    int code;
    char *message;
    size_t capacity;
} jpeg_failure;

static void jpeg_failed(j_common_ptr info) {
    jpeg_failure *failure = (jpeg_failure *)info->err;
    if (failure->code == SSL_IMAGE_OK) {
        failure->code = failure->manager.msg_code == JERR_OUT_OF_MEMORY ? SSL_IMAGE_OUT_OF_MEMORY : SSL_IMAGE_CORRUPT;
    }
    char text[JMSG_LENGTH_MAX];
    (*info->err->format_message)(info, text);
    snprintf(failure->message, failure->capacity, "%s", text);
    longjmp(failure->jump, 1);
}

static void jpeg_emitted(j_common_ptr info, int level) {
    if (level >= 0) return;  // trace messages
    jpeg_failure *failure = (jpeg_failure *)info->err;
    failure->manager.num_warnings++;
    // The data source met the end of the data: libjpeg would fill the rest with grey and call
    // it a warning. A cut file is an error here, as in Pillow.
    if (failure->manager.msg_code == JWRN_JPEG_EOF) {
        failure->code = SSL_IMAGE_TRUNCATED;
        jpeg_failed(info);
    }
    // Other warnings (corrupt entropy data, extraneous bytes) leave a decodable image, as
    // Pillow accepts it.
}

static void jpeg_silent(j_common_ptr info) { (void)info; }

static void jpeg_progressed(j_common_ptr info) {
    if (!info->is_decompressor) return;
    j_decompress_ptr decompress = (j_decompress_ptr)info;
    if (decompress->input_scan_number > SSL_JPEG_MAXIMUM_SCANS) {
        jpeg_failure *failure = (jpeg_failure *)info->err;
        failure->code = SSL_IMAGE_CORRUPT;
        snprintf(failure->message, failure->capacity, "more than %d progressive scans", SSL_JPEG_MAXIMUM_SCANS);
        longjmp(failure->jump, 1);
    }
}

static void jpeg_install_failure(struct jpeg_error_mgr **err, jpeg_failure *failure, char *message, size_t capacity) {
    *err = jpeg_std_error(&failure->manager);
    failure->manager.error_exit = jpeg_failed;
    failure->manager.emit_message = jpeg_emitted;
    failure->manager.output_message = jpeg_silent;
    failure->message = message;
    failure->capacity = capacity;
}

// MARK: - JPEG decoding

typedef struct {
    struct jpeg_decompress_struct info;
    jpeg_failure failure;
    struct jpeg_progress_mgr progress;
    ssl_decoded_image *image;
} jpeg_decode_context;

__attribute__((noinline)) static int jpeg_decode_run(jpeg_decode_context *context, const unsigned char *data,
                                                     size_t length, int channels, int minimum_side,
                                                     size_t maximum_pixels) {
    j_decompress_ptr info = &context->info;
    ssl_decoded_image *image = context->image;
    if (setjmp(context->failure.jump)) return context->failure.code;

    jpeg_create_decompress(info);
    context->progress.progress_monitor = jpeg_progressed;
    info->progress = &context->progress;
    jpeg_mem_src(info, data, (unsigned long)length);
    jpeg_save_markers(info, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(info, TRUE);
    if (info->image_width == 0 || info->image_height == 0 ||
        (uint64_t)info->image_width * info->image_height > (uint64_t)maximum_pixels) {
        snprintf(image->message, sizeof image->message, "%u×%u pixels is more than the limit of %zu pixels",
                 (unsigned)info->image_width, (unsigned)info->image_height, maximum_pixels);
        return SSL_IMAGE_TOO_LARGE;
    }

    int output_channels = channels;
    switch (info->jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
        info->out_color_space = JCS_CMYK;  // the caller converts CMYK to RGB or grey
        output_channels = 4;
        break;
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        info->out_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
        break;
    default:
        snprintf(image->message, sizeof image->message, "unsupported JPEG colour space %d with %d components",
                 (int)info->jpeg_color_space, info->num_components);
        return SSL_IMAGE_UNSUPPORTED;
    }

    // DCT scaling: decode at 1/8, 1/4 or 1/2 size when that still leaves the shorter side at
    // least `minimum_side` (libjpeg rounds scaled sizes up).
    unsigned int shorter = info->image_width < info->image_height ? info->image_width : info->image_height;
    unsigned int denominator = 1;
    if (minimum_side > 0) {
        for (unsigned int candidate = 8; candidate >= 2; candidate /= 2) {
            if ((shorter + candidate - 1) / candidate >= (unsigned int)minimum_side) {
                denominator = candidate;
                break;
            }
        }
    }
    info->scale_num = 1;
    info->scale_denom = denominator;
    // Whole-image coefficient buffers (progressive files) take at most 2 bytes per coefficient.
    uint64_t memory_limit = (uint64_t)maximum_pixels * 8u + (64u << 20);
    info->mem->max_memory_to_use = memory_limit > (uint64_t)LONG_MAX ? LONG_MAX : (long)memory_limit;
    jpeg_calc_output_dimensions(info);
    if (info->output_components != output_channels) {
        snprintf(image->message, sizeof image->message, "libjpeg produces %d channels instead of %d",
                 info->output_components, output_channels);
        return SSL_IMAGE_UNSUPPORTED;
    }

    size_t stride = (size_t)info->output_width * (size_t)output_channels;
    image->pixels = (unsigned char *)malloc(stride * info->output_height);
    if (image->pixels == NULL) {
        snprintf(image->message, sizeof image->message, "cannot allocate %zu bytes for %u×%u pixels",
                 stride * info->output_height, (unsigned)info->output_width, (unsigned)info->output_height);
        return SSL_IMAGE_OUT_OF_MEMORY;
    }
    for (jpeg_saved_marker_ptr marker = info->marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1 && marker->data_length > 6 && memcmp(marker->data, "Exif\0\0", 6) == 0) {
            image->exif = (unsigned char *)malloc(marker->data_length - 6);
            if (image->exif != NULL) {
                memcpy(image->exif, marker->data + 6, marker->data_length - 6);
                image->exif_length = marker->data_length - 6;
            }
            break;
        }
    }
    jpeg_start_decompress(info);
    JSAMPROW rows[16];
    while (info->output_scanline < info->output_height) {
        JDIMENSION remaining = info->output_height - info->output_scanline;
        JDIMENSION batch = remaining < 16 ? remaining : 16;
        for (JDIMENSION i = 0; i < batch; i++) rows[i] = image->pixels + (size_t)(info->output_scanline + i) * stride;
        if (jpeg_read_scanlines(info, rows, batch) == 0) {
            snprintf(image->message, sizeof image->message, "libjpeg stopped at row %u of %u",
                     (unsigned)info->output_scanline, (unsigned)info->output_height);
            return SSL_IMAGE_CORRUPT;
        }
    }
    jpeg_finish_decompress(info);  // reads to the end marker: a file cut after the last scan is truncated
    image->width = (int)info->output_width;
    image->height = (int)info->output_height;
    image->channels = output_channels;
    image->adobe_inverted = output_channels == 4 && info->saw_Adobe_marker;
    image->scale_denominator = (int)denominator;
    return SSL_IMAGE_OK;
}

int ssl_decode_jpeg(const unsigned char *data, size_t length, int channels, int minimum_side,
                    size_t maximum_pixels, ssl_decoded_image *image) {
    memset(image, 0, sizeof *image);
    image->scale_denominator = 1;
    char *message = image->message;
    size_t capacity = sizeof image->message;
    if (channels != 1 && channels != 3) return set_failure(message, capacity, SSL_IMAGE_INVALID_ARGUMENT, "channels must be 1 or 3");
    if (data == NULL || length < 3 || data[0] != 0xFF || data[1] != 0xD8) {
        return set_failure(message, capacity, SSL_IMAGE_CORRUPT, "the JPEG start-of-image marker is missing");
    }
    jpeg_decode_context *context = (jpeg_decode_context *)calloc(1, sizeof(jpeg_decode_context));
    if (context == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libjpeg could not start");
    context->image = image;
    jpeg_install_failure(&context->info.err, &context->failure, message, capacity);
    int code = jpeg_decode_run(context, data, length, channels, minimum_side, maximum_pixels);
    jpeg_destroy_decompress(&context->info);
    free(context);
    if (code != SSL_IMAGE_OK) {
        ssl_image_free(image);
        image->width = image->height = image->channels = 0;
    }
    return code;
}

// MARK: - Headers only

typedef struct {
    png_structp png;
    png_infop info;
    png_failure failure;
    png_memory_reader reader;
    ssl_decoded_image *image;
} png_header_context;

__attribute__((noinline)) static int png_header_run(png_header_context *context, size_t maximum_pixels) {
    png_structp png = context->png;
    png_infop info = context->info;
    if (setjmp(png_jmpbuf(png))) return context->failure.code;

    png_set_read_fn(png, &context->reader, png_read_from_memory);
    png_read_info(png, info);  // every chunk up to the first IDAT, CRCs checked as when decoding
    png_uint_32 width = 0, height = 0;
    int bit_depth = 0, color_type = 0;
    png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, NULL, NULL, NULL);
    if (width == 0 || height == 0 || (uint64_t)width * height > (uint64_t)maximum_pixels) {
        snprintf(context->image->message, sizeof context->image->message,
                 "%u×%u pixels is more than the limit of %zu pixels", (unsigned)width, (unsigned)height, maximum_pixels);
        return SSL_IMAGE_TOO_LARGE;
    }
    context->image->width = (int)width;
    context->image->height = (int)height;
    context->image->channels = (int)png_get_channels(png, info);
    return SSL_IMAGE_OK;
}

typedef struct {
    struct jpeg_decompress_struct info;
    jpeg_failure failure;
    ssl_decoded_image *image;
} jpeg_header_context;

__attribute__((noinline)) static int jpeg_header_run(jpeg_header_context *context, const unsigned char *data,
                                                     size_t length, size_t maximum_pixels) {
    j_decompress_ptr info = &context->info;
    ssl_decoded_image *image = context->image;
    if (setjmp(context->failure.jump)) return context->failure.code;

    jpeg_create_decompress(info);
    jpeg_mem_src(info, data, (unsigned long)length);
    jpeg_read_header(info, TRUE);  // the markers up to the first scan; a cut header is JWRN_JPEG_EOF
    if (info->image_width == 0 || info->image_height == 0 ||
        (uint64_t)info->image_width * info->image_height > (uint64_t)maximum_pixels) {
        snprintf(image->message, sizeof image->message, "%u×%u pixels is more than the limit of %zu pixels",
                 (unsigned)info->image_width, (unsigned)info->image_height, maximum_pixels);
        return SSL_IMAGE_TOO_LARGE;
    }
    switch (info->jpeg_color_space) {
    case JCS_CMYK:
    case JCS_YCCK:
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        break;
    default:
        snprintf(image->message, sizeof image->message, "unsupported JPEG colour space %d with %d components",
                 (int)info->jpeg_color_space, info->num_components);
        return SSL_IMAGE_UNSUPPORTED;
    }
    image->width = (int)info->image_width;
    image->height = (int)info->image_height;
    image->channels = info->num_components;
    return SSL_IMAGE_OK;
}

int ssl_read_image_header(const unsigned char *data, size_t length, size_t maximum_pixels, ssl_decoded_image *image) {
    memset(image, 0, sizeof *image);
    image->scale_denominator = 1;
    char *message = image->message;
    size_t capacity = sizeof image->message;
    int code;
    if (data != NULL && length >= 8 && png_sig_cmp((png_const_bytep)data, 0, 8) == 0) {
        png_header_context context;
        memset(&context, 0, sizeof context);
        context.failure.message = message;
        context.failure.capacity = capacity;
        context.reader.data = data;
        context.reader.length = length;
        context.image = image;
        context.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &context.failure, png_failed, png_warned);
        if (context.png == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
        context.info = png_create_info_struct(context.png);
        if (context.info == NULL) {
            png_destroy_read_struct(&context.png, NULL, NULL);
            return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libpng could not start");
        }
        code = png_header_run(&context, maximum_pixels);
        png_destroy_read_struct(&context.png, &context.info, NULL);
    } else if (data != NULL && length >= 3 && data[0] == 0xFF && data[1] == 0xD8) {
        jpeg_header_context *context = (jpeg_header_context *)calloc(1, sizeof(jpeg_header_context));
        if (context == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libjpeg could not start");
        context->image = image;
        jpeg_install_failure(&context->info.err, &context->failure, message, capacity);
        code = jpeg_header_run(context, data, length, maximum_pixels);
        jpeg_destroy_decompress(&context->info);
        free(context);
    } else {
        return set_failure(message, capacity, SSL_IMAGE_CORRUPT, "neither the PNG signature nor the JPEG start-of-image marker");
    }
    if (code != SSL_IMAGE_OK) image->width = image->height = image->channels = 0;
    return code;
}

// MARK: - JPEG encoding

typedef struct {
    struct jpeg_compress_struct info;
    jpeg_failure failure;
    unsigned char *bytes;
    unsigned long length;
} jpeg_encode_context;

__attribute__((noinline)) static int jpeg_encode_run(jpeg_encode_context *context, const unsigned char *pixels,
                                                     int width, int height, int components, int quality,
                                                     int progressive, int ycck, const unsigned char *app1,
                                                     size_t app1_length) {
    j_compress_ptr info = &context->info;
    if (setjmp(context->failure.jump)) return context->failure.code;

    jpeg_create_compress(info);
    jpeg_mem_dest(info, &context->bytes, &context->length);
    info->image_width = (JDIMENSION)width;
    info->image_height = (JDIMENSION)height;
    info->input_components = components;
    info->in_color_space = components == 1 ? JCS_GRAYSCALE : (components == 3 ? JCS_RGB : JCS_CMYK);
    jpeg_set_defaults(info);
    if (components == 4 && ycck) jpeg_set_colorspace(info, JCS_YCCK);
    jpeg_set_quality(info, quality, TRUE);
    if (progressive) jpeg_simple_progression(info);
    jpeg_start_compress(info, TRUE);
    if (app1 != NULL && app1_length > 0) jpeg_write_marker(info, JPEG_APP0 + 1, app1, (unsigned int)app1_length);
    size_t stride = (size_t)width * (size_t)components;
    while (info->next_scanline < info->image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)info->next_scanline * stride);
        jpeg_write_scanlines(info, &row, 1);
    }
    jpeg_finish_compress(info);
    return SSL_IMAGE_OK;
}

int ssl_encode_jpeg(const unsigned char *pixels, int width, int height, int components, int quality,
                    int progressive, int ycck, const unsigned char *app1, size_t app1_length,
                    ssl_encoded_data *output) {
    memset(output, 0, sizeof *output);
    char *message = output->message;
    size_t capacity = sizeof output->message;
    if (pixels == NULL || width <= 0 || height <= 0 || width > 65500 || height > 65500 ||
        (components != 1 && components != 3 && components != 4) || quality < 1 || quality > 100 ||
        app1_length > 65533) {
        return set_failure(message, capacity, SSL_IMAGE_INVALID_ARGUMENT, "invalid JPEG encoding arguments");
    }
    jpeg_encode_context *context = (jpeg_encode_context *)calloc(1, sizeof(jpeg_encode_context));
    if (context == NULL) return set_failure(message, capacity, SSL_IMAGE_OUT_OF_MEMORY, "libjpeg could not start");
    jpeg_install_failure(&context->info.err, &context->failure, message, capacity);
    int code = jpeg_encode_run(context, pixels, width, height, components, quality, progressive, ycck, app1, app1_length);
    jpeg_destroy_compress(&context->info);
    if (code == SSL_IMAGE_OK) {
        output->bytes = context->bytes;
        output->length = (size_t)context->length;
    } else {
        free(context->bytes);
    }
    free(context);
    return code;
}
