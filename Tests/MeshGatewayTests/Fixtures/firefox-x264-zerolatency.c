/* Preloaded into the Firefox of the browser tests, so that it can send H.264 at all.
 *
 * Debian's Firefox ESR has no OpenH264 plugin (Mozilla downloads it at run time, and the tests
 * have no network), so it encodes WebRTC H.264 with libavcodec's libx264. It opens x264 with
 * x264's default lookahead, about 40 frames of delay; Firefox gives up on frames that wait that
 * long and sends none. This sets what a real-time encoder needs (no lookahead, no B-frames,
 * fast settings) on every x264 encoder the process opens, through x264's own x264_param_parse.
 * Firefox receiving H.264 needs none of this.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct x264_param_t x264_param_t;
typedef struct x264_t x264_t;

/* Firefox loads libavcodec, and with it libx264, privately: RTLD_NEXT cannot see it. */
static void *x264(void) {
  static void *library;
  if (!library) library = dlopen("libx264.so.164", RTLD_NOW | RTLD_NOLOAD);
  if (!library) library = dlopen("libx264.so.164", RTLD_NOW);
  return library;
}

x264_t *x264_encoder_open_164(x264_param_t *parameters) {
  static const char *settings[][2] = {
    {"rc-lookahead", "0"}, {"sync-lookahead", "0"}, {"bframes", "0"}, {"mbtree", "0"},
    {"sliced-threads", "0"}, {"ref", "1"}, {"me", "dia"}, {"subme", "1"}, {"trellis", "0"},
    {"partitions", "none"}, {"weightp", "0"}, {"aq-mode", "0"},
  };
  x264_t *(*open)(x264_param_t *) = (x264_t * (*)(x264_param_t *)) dlsym(x264(), "x264_encoder_open_164");
  int (*parse)(x264_param_t *, const char *, const char *) =
      (int (*)(x264_param_t *, const char *, const char *))dlsym(x264(), "x264_param_parse");
  if (!open) return NULL;
  if (parse)
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) parse(parameters, settings[i][0], settings[i][1]);
  return open(parameters);
}
