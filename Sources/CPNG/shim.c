#include "CPNG.h"
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Decoded images larger than this are refused rather than allocated (a corrupt header can
// claim 2^31 x 2^31 pixels).
#define FORGER_PNG_MAX_BYTES ((size_t)1 << 31)

static void copy_message(char *message, size_t message_size, const char *text) {
    if (message == NULL || message_size == 0) return;
    strncpy(message, text, message_size - 1);
    message[message_size - 1] = '\0';
}

int forger_png_decode(const uint8_t *data, size_t size, size_t max_bytes,
                      uint32_t *width, uint32_t *height, int *channels,
                      uint8_t **pixels, char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    *pixels = NULL;
    if (!png_image_begin_read_from_memory(&image, data, size)) {
        copy_message(message, message_size, image.message);
        png_image_free(&image);
        return 0;
    }
    int count;
    if (image.format & PNG_FORMAT_FLAG_ALPHA) {
        image.format = PNG_FORMAT_RGBA;
        count = 4;
    } else if (image.format & PNG_FORMAT_FLAG_COLOR) {
        image.format = PNG_FORMAT_RGB;
        count = 3;
    } else {
        image.format = PNG_FORMAT_GRAY;
        count = 1;
    }
    size_t bytes = (size_t)image.width * (size_t)image.height * (size_t)count;
    if (image.width == 0 || image.height == 0 || bytes / count / image.width != image.height
        || bytes > FORGER_PNG_MAX_BYTES || bytes > max_bytes) {
        char text[160];
        snprintf(text, sizeof text, "image of %ux%u pixels is empty, or decodes to more than this %zu-byte file can hold",
                 image.width, image.height, size);
        copy_message(message, message_size, text);
        png_image_free(&image);
        return 0;
    }
    uint8_t *buffer = malloc(bytes);
    if (buffer == NULL) {
        copy_message(message, message_size, "out of memory");
        png_image_free(&image);
        return 0;
    }
    // finish_read frees the image's internal state whether it succeeds or fails.
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        copy_message(message, message_size, image.message);
        free(buffer);
        return 0;
    }
    *width = image.width;
    *height = image.height;
    *channels = count;
    *pixels = buffer;
    return 1;
}

int forger_png_encode(const uint8_t *pixels, uint32_t width, uint32_t height, int channels,
                      size_t stride, uint8_t **png, size_t *png_size,
                      char *message, size_t message_size) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    image.width = width;
    image.height = height;
    switch (channels) {
    case 1: image.format = PNG_FORMAT_GRAY; break;
    case 2: image.format = PNG_FORMAT_GA; break;
    case 3: image.format = PNG_FORMAT_RGB; break;
    case 4: image.format = PNG_FORMAT_RGBA; break;
    default:
        copy_message(message, message_size, "channels must be 1, 2, 3 or 4");
        return 0;
    }
    *png = NULL;
    *png_size = 0;
    size_t capacity = PNG_IMAGE_PNG_SIZE_MAX(image);
    uint8_t *buffer = malloc(capacity);
    if (buffer == NULL) {
        copy_message(message, message_size, "out of memory");
        return 0;
    }
    png_alloc_size_t written = capacity;
    if (!png_image_write_to_memory(&image, buffer, &written, 0, pixels,
                                   (png_int_32)(stride), NULL)) {
        copy_message(message, message_size, image.message);
        free(buffer);
        png_image_free(&image);
        return 0;
    }
    *png = buffer;
    *png_size = written;
    return 1;
}

void forger_png_free(void *pointer) { free(pointer); }
