// The C side of MeshGate's GStreamer layer: GStreamer's headers, plus small typed
// wrappers for what Swift cannot call itself (variadic functions, macros, action
// signals). Each wrapper does one call; all policy lives in Swift.
#ifndef MESHGATE_CGSTREAMER_SHIM_H
#define MESHGATE_CGSTREAMER_SHIM_H

#define GST_USE_UNSTABLE_API
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <string.h>

static inline guint64 mg_second(void) { return GST_SECOND; }
static inline guint64 mg_clock_time_none(void) { return GST_CLOCK_TIME_NONE; }

static inline GstElement *mg_bin_get_by_name(GstElement *bin, const char *name) {
    return gst_bin_get_by_name(GST_BIN(bin), name);
}
static inline gboolean mg_bin_add(GstElement *bin, GstElement *element) {
    return gst_bin_add(GST_BIN(bin), element);
}
static inline gboolean mg_bin_remove(GstElement *bin, GstElement *element) {
    return gst_bin_remove(GST_BIN(bin), element);
}
static inline guint mg_bin_element_count(GstElement *bin) { return GST_BIN(bin)->numchildren; }
/// What `take` gives for each element of `bin`, nested ones included, as a NULL-terminated
/// array (elements it gives NULL for are left out). When the bin changes under the walk, it
/// starts over, `release` freeing what it had.
typedef gpointer (*mg_element_take)(GstElement *element, gconstpointer data);
static inline gpointer *mg_bin_collect(GstElement *bin, mg_element_take take, gconstpointer data, GDestroyNotify release) {
    GPtrArray *items = g_ptr_array_new();
    GstIterator *iterator = gst_bin_iterate_recurse(GST_BIN(bin));
    GValue item = G_VALUE_INIT;
    gboolean done = FALSE;
    while (!done) {
        switch (gst_iterator_next(iterator, &item)) {
        case GST_ITERATOR_OK: {
            gpointer taken = take(GST_ELEMENT(g_value_get_object(&item)), data);
            if (taken) g_ptr_array_add(items, taken);
            g_value_reset(&item);
            break;
        }
        case GST_ITERATOR_RESYNC:
            g_ptr_array_foreach(items, (GFunc)release, NULL);
            g_ptr_array_set_size(items, 0);
            gst_iterator_resync(iterator);
            break;
        default:
            done = TRUE;
        }
    }
    g_value_unset(&item);
    gst_iterator_free(iterator);
    g_ptr_array_add(items, NULL);
    return g_ptr_array_free(items, FALSE);
}
static gpointer mg_take_name(GstElement *element, gconstpointer data) {
    (void)data;
    return gst_object_get_name(GST_OBJECT(element));
}
/// The names of every element in `bin`, nested ones included, NULL-terminated. g_strfreev it.
static inline gchar **mg_bin_element_names(GstElement *bin) {
    return (gchar **)mg_bin_collect(bin, mg_take_name, NULL, g_free);
}
static gpointer mg_take_source_pad_if_made_by(GstElement *element, gconstpointer factory) {
    GstElementFactory *made_by = gst_element_get_factory(element);
    if (!made_by || g_strcmp0(GST_OBJECT_NAME(made_by), factory) != 0) return NULL;
    return gst_element_get_static_pad(element, "src");
}
/// The "src" pads of every element in `bin`, nested ones included, made by `factory`;
/// NULL-terminated, each pad with a reference the caller owns. g_free the array.
static inline GstPad **mg_bin_source_pads_of(GstElement *bin, const char *factory) {
    return (GstPad **)mg_bin_collect(bin, mg_take_source_pad_if_made_by, factory, gst_object_unref);
}

static inline GstBus *mg_element_bus(GstElement *element) { return gst_element_get_bus(element); }
static inline GstMessageType mg_message_type(GstMessage *message) { return GST_MESSAGE_TYPE(message); }
static inline GstObject *mg_message_source(GstMessage *message) { return GST_MESSAGE_SRC(message); }
static inline const char *mg_object_name(GstObject *object) { return GST_OBJECT_NAME(object); }
static inline GstPadDirection mg_pad_direction(GstPad *pad) { return GST_PAD_DIRECTION(pad); }
static inline GstElement *mg_pad_parent_element(GstPad *pad) { return gst_pad_get_parent_element(pad); }
static inline GstObject *mg_object_ref(gpointer object) { return gst_object_ref(object); }
static inline void mg_object_unref(gpointer object) { gst_object_unref(object); }
static inline void mg_gobject_unref(gpointer object) { g_object_unref(object); }
static inline void mg_gobject_ref(gpointer object) { g_object_ref(object); }
static inline void mg_object_set_object(gpointer object, const char *property, gpointer value) {
    g_object_set(object, property, value, NULL);
}
static inline GstEventType mg_probe_event_type(GstPadProbeInfo *info) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    return event ? GST_EVENT_TYPE(event) : GST_EVENT_UNKNOWN;
}

// --- webrtcbin action signals -------------------------------------------------

static inline GstWebRTCSessionDescription *mg_description_from_text(GstWebRTCSDPType type, const char *text) {
    GstSDPMessage *sdp = NULL;
    if (gst_sdp_message_new_from_text(text, &sdp) != GST_SDP_OK) return NULL;
    return gst_webrtc_session_description_new(type, sdp);
}

/// A new data channel negotiated in band (DCEP), reliable and ordered; a reference the caller owns.
static inline GstWebRTCDataChannel *mg_webrtc_create_data_channel(GstElement *webrtc, const char *label) {
    GstWebRTCDataChannel *channel = NULL;
    g_signal_emit_by_name(webrtc, "create-data-channel", label, NULL, &channel);
    return channel;
}
static inline char *mg_data_channel_label(GstWebRTCDataChannel *channel) {
    char *label = NULL;
    g_object_get(channel, "label", &label, NULL);
    return label;
}
/// Sends `text`; NULL when sent, else the reason (freed by the caller).
static inline char *mg_data_channel_send(GstWebRTCDataChannel *channel, const char *text) {
    GError *error = NULL;
    if (gst_webrtc_data_channel_send_string_full(channel, text, &error)) return NULL;
    char *reason = g_strdup(error ? error->message : "not sent");
    g_clear_error(&error);
    return reason;
}
static inline void mg_webrtc_create_offer(GstElement *webrtc, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, "create-offer", NULL, promise);
}
static inline void mg_webrtc_create_answer(GstElement *webrtc, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, "create-answer", NULL, promise);
}
static inline void mg_webrtc_set_description(GstElement *webrtc, gboolean local, GstWebRTCSessionDescription *description, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, local ? "set-local-description" : "set-remote-description", description, promise);
}
static inline void mg_webrtc_add_ice_candidate(GstElement *webrtc, guint mline, const char *candidate) {
    g_signal_emit_by_name(webrtc, "add-ice-candidate", mline, candidate);
}
static inline void mg_webrtc_get_stats(GstElement *webrtc, GstPromise *promise) {
    g_signal_emit_by_name(webrtc, "get-stats", NULL, promise);
}
static inline GstWebRTCRTPTransceiver *mg_webrtc_add_transceiver(GstElement *webrtc, GstWebRTCRTPTransceiverDirection direction, GstCaps *caps) {
    GstWebRTCRTPTransceiver *transceiver = NULL;
    g_signal_emit_by_name(webrtc, "add-transceiver", direction, caps, &transceiver);
    return transceiver;
}
/// Seeks the stream behind `element` (a decodebin) back to its start as a segment: the
/// demuxer then posts segment-done at the end instead of end-of-stream. The seek goes
/// upstream from the first source pad; one pad reaches the demuxer that feeds them all.
static inline gboolean mg_element_seek_start(GstElement *element, gboolean flush, gboolean segment) {
    GstIterator *pads = gst_element_iterate_src_pads(element);
    GValue item = G_VALUE_INIT;
    gboolean sent = FALSE;
    if (gst_iterator_next(pads, &item) == GST_ITERATOR_OK) {
        GstSeekFlags flags = (segment ? GST_SEEK_FLAG_SEGMENT : GST_SEEK_FLAG_NONE) | (flush ? GST_SEEK_FLAG_FLUSH : GST_SEEK_FLAG_NONE);
        GstEvent *seek = gst_event_new_seek(1.0, GST_FORMAT_TIME, flags, GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_NONE, GST_CLOCK_TIME_NONE);
        sent = gst_pad_send_event(GST_PAD(g_value_get_object(&item)), seek);
        g_value_unset(&item);
    }
    gst_iterator_free(pads);
    return sent;
}
/// What a hold after the first buffer keeps: whether it passed, and its running time
/// (-1 until known), read from another thread.
typedef struct {
    gboolean passed;
    gint64 running_time;
} MgFirstBuffer;
/// Lets the first buffer through (its caps reach the encoders, and offers need them), noting
/// its running time, and blocks on every later one until the probe is removed.
static GstPadProbeReturn mg_hold_after_first_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    MgFirstBuffer *first = data;
    if (first->passed) return GST_PAD_PROBE_OK;
    first->passed = TRUE;
    GstBuffer *buffer = (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER) ? GST_PAD_PROBE_INFO_BUFFER(info)
        : gst_buffer_list_get(GST_PAD_PROBE_INFO_BUFFER_LIST(info), 0);
    GstEvent *event = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
    if (event != NULL && buffer != NULL && GST_BUFFER_PTS_IS_VALID(buffer)) {
        const GstSegment *segment;
        gst_event_parse_segment(event, &segment);
        guint64 time = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
        if (time != GST_CLOCK_TIME_NONE) __atomic_store_n(&first->running_time, (gint64)time, __ATOMIC_RELEASE);
    }
    if (event != NULL) gst_event_unref(event);
    return GST_PAD_PROBE_PASS;
}
static inline gulong mg_pad_hold_after_first_buffer(GstPad *pad, MgFirstBuffer **noted) {
    GstPadProbeType mask = GST_PAD_PROBE_TYPE_BLOCK | GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST;
    MgFirstBuffer *first = g_new0(MgFirstBuffer, 1);
    first->running_time = -1;
    if (noted != NULL) *noted = first;
    return gst_pad_add_probe(pad, mask, mg_hold_after_first_probe, first, g_free);
}
/// Drops each buffer whose running time is not past the last one's: where sources are
/// switched, the one switched in may start a little behind the one before, and what follows
/// (encoders, receivers, their recordings) takes time that goes back as a broken stream.
static GstPadProbeReturn mg_monotonic_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    gint64 *last = data;
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER(info);
    if (buffer == NULL || !GST_BUFFER_PTS_IS_VALID(buffer)) return GST_PAD_PROBE_OK;
    GstEvent *event = gst_pad_get_sticky_event(pad, GST_EVENT_SEGMENT, 0);
    if (event == NULL) return GST_PAD_PROBE_OK;
    const GstSegment *segment;
    gst_event_parse_segment(event, &segment);
    guint64 time = gst_segment_to_running_time(segment, GST_FORMAT_TIME, GST_BUFFER_PTS(buffer));
    gst_event_unref(event);
    if (time == GST_CLOCK_TIME_NONE) return GST_PAD_PROBE_OK;
    gint64 previous = __atomic_load_n(last, __ATOMIC_ACQUIRE);
    if (previous >= 0 && (gint64)time <= previous) return GST_PAD_PROBE_DROP;
    __atomic_store_n(last, (gint64)time, __ATOMIC_RELEASE);
    return GST_PAD_PROBE_OK;
}
static inline gulong mg_pad_keep_time_moving(GstPad *pad) {
    gint64 *last = g_new(gint64, 1);
    *last = -1;
    return gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mg_monotonic_probe, last, g_free);
}
/// The running time of the first buffer a hold let through; -1 while unknown.
static inline gint64 mg_first_buffer_running_time(MgFirstBuffer *first) {
    return __atomic_load_n(&first->running_time, __ATOMIC_ACQUIRE);
}
/// Overwrites each raw buffer with black (YUV video) or silence (signed PCM audio), the
/// buffer's size, timing and caps unchanged: what follows, the encoders included, goes on
/// as before.
static GstPadProbeReturn mg_blank_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    GstBuffer *buffer = gst_buffer_make_writable(GST_PAD_PROBE_INFO_BUFFER(info));
    GST_PAD_PROBE_INFO_DATA(info) = buffer;
    GstCaps *caps = gst_pad_get_current_caps(pad);
    if (caps == NULL) return GST_PAD_PROBE_OK;
    GstVideoInfo video;
    if (g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "video/") && gst_video_info_from_caps(&video, caps)) {
        GstVideoFrame frame;
        if (gst_video_frame_map(&frame, &video, buffer, GST_MAP_WRITE)) {
            for (guint plane = 0; plane < GST_VIDEO_FRAME_N_PLANES(&frame); plane++) {
                memset(GST_VIDEO_FRAME_PLANE_DATA(&frame, plane), plane == 0 ? 16 : 128,
                       (gsize)GST_VIDEO_FRAME_PLANE_STRIDE(&frame, plane) * GST_VIDEO_FRAME_COMP_HEIGHT(&frame, plane));
            }
            gst_video_frame_unmap(&frame);
        }
    } else {
        GstMapInfo map;
        if (gst_buffer_map(buffer, &map, GST_MAP_WRITE)) {
            memset(map.data, 0, map.size);
            gst_buffer_unmap(buffer, &map);
        }
    }
    gst_caps_unref(caps);
    return GST_PAD_PROBE_OK;
}
static inline gulong mg_pad_blank(GstPad *pad) {
    return gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, mg_blank_probe, NULL, NULL);
}
/// Hands each buffer to the peer pad itself and tells upstream OK whatever the peer returned:
/// an error below (a recording's full disk), or FLUSHING while what failed is taken away, then
/// stops there instead of pausing every streaming thread above it up to the network. Without
/// a peer, buffers are dropped.
static GstPadProbeReturn mg_contain_errors_probe(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
    GstPad *peer = gst_pad_get_peer(pad);
    if (peer) {
        if (GST_PAD_PROBE_INFO_TYPE(info) & GST_PAD_PROBE_TYPE_BUFFER)
            (void)gst_pad_chain(peer, gst_buffer_ref(GST_PAD_PROBE_INFO_BUFFER(info)));
        else
            (void)gst_pad_chain_list(peer, gst_buffer_list_ref(GST_PAD_PROBE_INFO_BUFFER_LIST(info)));
        gst_object_unref(peer);
    }
    gst_mini_object_unref(GST_MINI_OBJECT_CAST(GST_PAD_PROBE_INFO_DATA(info)));
    GST_PAD_PROBE_INFO_DATA(info) = NULL;
    GST_PAD_PROBE_INFO_FLOW_RETURN(info) = GST_FLOW_OK;
    return GST_PAD_PROBE_HANDLED;
}
static inline void mg_pad_contain_downstream_errors(GstPad *pad) {
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST, mg_contain_errors_probe, NULL, NULL);
}
/// Fixes the codecs of the transceiver behind a requested sink pad; FALSE if webrtcbin has none.
static inline gboolean mg_webrtc_pad_set_codec_preferences(GstPad *pad, GstCaps *caps) {
    GstWebRTCRTPTransceiver *transceiver = NULL;
    if (!g_object_class_find_property(G_OBJECT_GET_CLASS(pad), "transceiver")) return FALSE;
    g_object_get(pad, "transceiver", &transceiver, NULL);
    if (!transceiver) return FALSE;
    g_object_set(transceiver, "codec-preferences", caps, NULL);
    g_object_unref(transceiver);
    return TRUE;
}
/// Only these addresses are used for ICE from now on (libnice never gathers loopback by itself).
static inline gboolean mg_webrtc_add_local_address(GstElement *webrtc, const char *address) {
    GObject *agent = NULL;
    gboolean ok = FALSE;
    g_object_get(webrtc, "ice-agent", &agent, NULL);
    if (!agent) return FALSE;
    g_signal_emit_by_name(agent, "add-local-ip-address", address, &ok);
    g_object_unref(agent);
    return ok;
}
/// Turns off libnice's UPnP port mapping: it asks the LAN's router to open ports and runs
/// a thread per peer for it; STUN and TURN are how MeshGate crosses NATs.
static inline void mg_webrtc_disable_upnp(GstElement *webrtc) {
    GObject *ice = NULL, *agent = NULL;
    g_object_get(webrtc, "ice-agent", &ice, NULL);
    if (!ice) return;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent")) g_object_get(ice, "agent", &agent, NULL);
    if (agent) {
        g_object_set(agent, "upnp", FALSE, NULL);
        g_object_unref(agent);
    }
    g_object_unref(ice);
}
static inline void mg_set_faststart(GstElement *rtpbin, GstElement *jitterbuffer, guint session, guint ssrc, gpointer packets) {
    g_object_set(jitterbuffer, "faststart-min-packets", GPOINTER_TO_UINT(packets), NULL);
}
/// Configures webrtcbin's RTP session manager. Its jitterbuffers pass their first packets
/// on once `packets` of them came in order (instead of holding the first for their whole
/// latency), and mark buffers with the sender's wall-clock time once an RTCP sender report
/// maps it (a "timestamp/x-ntp" reference timestamp meta). Our own sender reports map RTP
/// time to the capture time, as browsers' do; the default, the send time, put them seconds
/// off. FALSE when webrtcbin has no rtpbin.
static inline gboolean mg_webrtc_configure_rtpbin(GstElement *webrtc, guint packets) {
    GstElement *rtpbin = gst_bin_get_by_name(GST_BIN(webrtc), "rtpbin");
    if (!rtpbin) return FALSE;
    g_object_set(rtpbin, "add-reference-timestamp-meta", TRUE, "rtcp-sync-send-time", FALSE, NULL);
    g_signal_connect(rtpbin, "new-jitterbuffer", G_CALLBACK(mg_set_faststart), GUINT_TO_POINTER(packets));
    gst_object_unref(rtpbin);
    return TRUE;
}
static inline void mg_webrtc_set_ice_port_range(GstElement *webrtc, guint min, guint max) {
    GObject *agent = NULL;
    g_object_get(webrtc, "ice-agent", &agent, NULL);
    if (!agent) return;
    g_object_set(agent, "min-rtp-port", min, "max-rtp-port", max, NULL);
    g_object_unref(agent);
}
/// Whether ICE gathers and pairs TCP candidates too (RFC 6544; libnice does by default).
static inline void mg_webrtc_set_ice_tcp(GstElement *webrtc, gboolean enabled) {
    GObject *agent = NULL;
    g_object_get(webrtc, "ice-agent", &agent, NULL);
    if (!agent) return;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(agent), "ice-tcp")) g_object_set(agent, "ice-tcp", enabled, NULL);
    g_object_unref(agent);
}
static inline gboolean mg_webrtc_add_turn_server(GstElement *webrtc, const char *url) {
    gboolean ok = FALSE;
    g_signal_emit_by_name(webrtc, "add-turn-server", url, &ok);
    return ok;
}
/* A string property set as it is: gst_util_set_object_arg would read "NULL" as no string
   and unquote a quoted one. */
static inline void mg_object_set_string(gpointer object, const char *property, const char *value) {
  g_object_set(object, property, value, NULL);
}
static inline gint mg_object_get_int(gpointer object, const char *property) {
    gint value = 0;
    g_object_get(object, property, &value, NULL);
    return value;
}
static inline gint mg_object_get_enum(gpointer object, const char *property) {
    gint value = 0;
    g_object_get(object, property, &value, NULL);
    return value;
}

// --- promise replies ------------------------------------------------------------

/// The SDP text of the description in `field` of a promise reply, or NULL. g_free it.
static inline char *mg_reply_description_text(const GstStructure *reply, const char *field) {
    if (!reply || !gst_structure_has_field_typed(reply, field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION)) return NULL;
    const GValue *value = gst_structure_get_value(reply, field);
    const GstWebRTCSessionDescription *description = g_value_get_boxed(value);
    return description ? gst_sdp_message_as_text(description->sdp) : NULL;
}
/// The message of the GError in a promise reply's "error" field, or NULL. g_free it.
static inline char *mg_reply_error_text(const GstStructure *reply) {
    if (!reply || !gst_structure_has_field_typed(reply, "error", G_TYPE_ERROR)) return NULL;
    const GError *error = g_value_get_boxed(gst_structure_get_value(reply, "error"));
    return error ? g_strdup(error->message) : NULL;
}

/// The structure a GValue holds, or NULL when it holds something else.
static inline const GstStructure *mg_value_structure(const GValue *value) {
    return GST_VALUE_HOLDS_STRUCTURE(value) ? gst_value_get_structure(value) : NULL;
}

// --- signals: typed connect helpers so Swift passes @convention(c) functions -----

typedef void (*mg_element_callback)(GstElement *element, gpointer data);
typedef void (*mg_ice_candidate_callback)(GstElement *element, guint mline, gchar *candidate, gpointer data);
typedef void (*mg_pad_callback)(GstElement *element, GstPad *pad, gpointer data);
typedef void (*mg_notify_callback)(GObject *object, GParamSpec *spec, gpointer data);

static inline gulong mg_connect_element(gpointer instance, const char *signal, mg_element_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, signal, G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_ice_candidate(gpointer instance, mg_ice_candidate_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, "on-ice-candidate", G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_pad(gpointer instance, const char *signal, mg_pad_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, signal, G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_notify(gpointer instance, const char *signal, mg_notify_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, signal, G_CALLBACK(callback), data, release, 0);
}
typedef void (*mg_data_channel_callback)(GstElement *webrtc, GstWebRTCDataChannel *channel, gpointer data);
typedef void (*mg_channel_callback)(GstWebRTCDataChannel *channel, gpointer data);
typedef void (*mg_channel_text_callback)(GstWebRTCDataChannel *channel, gchar *text, gpointer data);
typedef void (*mg_channel_error_callback)(GstWebRTCDataChannel *channel, GError *error, gpointer data);

static inline gulong mg_connect_data_channel(gpointer instance, mg_data_channel_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, "on-data-channel", G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_channel(gpointer instance, const char *signal, mg_channel_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, signal, G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_channel_text(gpointer instance, mg_channel_text_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, "on-message-string", G_CALLBACK(callback), data, release, 0);
}
static inline gulong mg_connect_channel_error(gpointer instance, mg_channel_error_callback callback, gpointer data, GClosureNotify release) {
    return g_signal_connect_data(instance, "on-error", G_CALLBACK(callback), data, release, 0);
}
static inline void mg_disconnect(gpointer instance, gulong handler) {
    if (handler && g_signal_handler_is_connected(instance, handler)) g_signal_handler_disconnect(instance, handler);
}

// --- devices --------------------------------------------------------------------

/// Devices of a class such as "Video/Source" or "Audio/Source". Free with mg_device_list_free.
static inline GList *mg_devices(const char *classes) {
    GstDeviceMonitor *monitor = gst_device_monitor_new();
    gst_device_monitor_add_filter(monitor, classes, NULL);
    GList *devices = gst_device_monitor_get_devices(monitor);
    gst_object_unref(monitor);
    return devices;
}
static inline void mg_device_list_free(GList *devices) { g_list_free_full(devices, gst_object_unref); }
static inline GstDevice *mg_device_at(GList *node) { return GST_DEVICE(node->data); }

// --- media ----------------------------------------------------------------------

/// Asks the encoder upstream of `pad` for a keyframe with its parameter sets.
static inline gboolean mg_request_keyframe(GstPad *pad) {
    return gst_pad_send_event(pad, gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
}
/// When the sender made this received buffer, in ns since 1970 on the sender's wall clock
/// (the reference timestamp meta the jitterbuffer adds once an RTCP sender report maps
/// RTP time to NTP time); 0 when it has none yet.
static inline guint64 mg_buffer_sender_unix_time(GstBuffer *buffer) {
    static GstCaps *ntp = NULL;
    static gsize made = 0;
    if (g_once_init_enter(&made)) {
        ntp = gst_caps_new_empty_simple("timestamp/x-ntp");
        g_once_init_leave(&made, 1);
    }
    GstReferenceTimestampMeta *meta = gst_buffer_get_reference_timestamp_meta(buffer, ntp);
    const guint64 ntp_to_unix = G_GUINT64_CONSTANT(2208988800) * GST_SECOND;
    return meta && meta->timestamp > ntp_to_unix ? meta->timestamp - ntp_to_unix : 0;
}
/// Sets `latency` (ms) on the source a uridecodebin makes for its URI, when that source has
/// such a property (rtspsrc, srtsrc): how long it waits for late or reordered packets.
static void mg_set_source_latency(GstElement *bin, GstElement *source, gpointer data) {
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(source), "latency");
    if (!spec) return;
    if (G_PARAM_SPEC_VALUE_TYPE(spec) == G_TYPE_INT) g_object_set(source, "latency", GPOINTER_TO_INT(data), NULL);
    else if (G_PARAM_SPEC_VALUE_TYPE(spec) == G_TYPE_UINT) g_object_set(source, "latency", (guint)GPOINTER_TO_INT(data), NULL);
}
static inline void mg_uridecodebin_set_source_latency(GstElement *uridecodebin, gint milliseconds) {
    g_signal_connect(uridecodebin, "source-setup", G_CALLBACK(mg_set_source_latency), GINT_TO_POINTER(milliseconds));
}
static inline gboolean mg_send_eos(GstPad *pad) { return gst_pad_send_event(pad, gst_event_new_eos()); }

/// 0: not a request for a keyframe; 1: one (force-key-unit, going upstream); 2: one that
/// `mg_push_held_keyframe_request` sent, which the gate that held it lets through.
static inline int mg_keyframe_request_kind(GstPadProbeInfo *info) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (!event || !gst_video_event_is_force_key_unit(event)) return 0;
    const GstStructure *structure = gst_event_get_structure(event);
    return structure && gst_structure_has_field(structure, "meshgate-held") ? 2 : 1;
}
/// Sends a held request for a keyframe on upstream from `pad`, marked as such.
static inline gboolean mg_push_held_keyframe_request(GstPad *pad) {
    GstEvent *event = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0);
    gst_structure_set(gst_event_writable_structure(event), "meshgate-held", G_TYPE_BOOLEAN, TRUE, NULL);
    return gst_pad_push_event(pad, event);
}


#endif
