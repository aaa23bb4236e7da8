#!/usr/bin/env python3
"""An IP camera for tests: GStreamer's RTSP server with a moving test pattern in H.264 and a
tone in A-law (G.711), as cheap cameras send, at rtsp://127.0.0.1:PORT/camera.

    rtsp-camera.py PORT [--b-frames]

PORT 0 takes a free port. --b-frames encodes with B-frames, which browsers cannot play in
real time. Prints "ready PORT" once it serves; runs until killed."""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        sys.exit(__doc__)
    Gst.init(None)
    encoder = "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30"
    if "--b-frames" in sys.argv[2:]:
        # Without zerolatency x264 may reorder frames: B-frames, as some cameras send.
        # The payloader would otherwise ask for constrained baseline, which has none.
        encoder = "x264enc speed-preset=ultrafast bframes=2 b-adapt=false key-int-max=30 ! video/x-h264,profile=main"
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=15/1 "
        f"! {encoder} ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 )")
    # One pipeline for every client, as a camera has one sensor.
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(sys.argv[1])
    server.get_mount_points().add_factory("/camera", factory)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {sys.argv[1]}")
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
