#!/usr/bin/env python3
"""An IP camera for tests: GStreamer's RTSP server with a moving test pattern in H.264 and a
tone in A-law (G.711), as cheap cameras send, at rtsp://127.0.0.1:PORT/camera.

    rtsp-camera.py PORT [--b-frames] [--size WxH] [--fps N] [--bars] [--bitrate KBPS]

PORT 0 takes a free port. --b-frames encodes with B-frames, which browsers cannot play in
real time. --size and --fps set the picture (default 640x480 at 15 fps). --bars sends colour
bars scrolling sideways instead of a ball: enough motion to keep the encoder at --bitrate
(default x264enc's 2048 kbit/s), as a real camera's picture does; the ball compresses to a
tenth of that. Prints "ready PORT" once it serves; runs until killed."""
import argparse

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("port", type=int)
    parser.add_argument("--b-frames", action="store_true")
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--bars", action="store_true")
    parser.add_argument("--bitrate", type=int, default=2048)
    args = parser.parse_args()
    width, height = args.size.split("x")
    Gst.init(None)
    encoder = f"x264enc tune=zerolatency speed-preset=ultrafast bitrate={args.bitrate} key-int-max=30"
    if args.b_frames:
        # Without zerolatency x264 may reorder frames: B-frames, as some cameras send.
        # The payloader would otherwise ask for constrained baseline, which has none.
        encoder = f"x264enc speed-preset=ultrafast bitrate={args.bitrate} bframes=2 b-adapt=false key-int-max=30 ! video/x-h264,profile=main"
    picture = "pattern=smpte horizontal-speed=4" if args.bars else "pattern=ball"
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true {picture} ! video/x-raw,width={width},height={height},framerate={args.fps}/1 "
        f"! {encoder} ! rtph264pay name=pay0 pt=96 config-interval=-1 "
        "audiotestsrc is-live=true wave=sine freq=440 ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8 )")
    # One pipeline for every client, as a camera has one sensor.
    factory.set_shared(True)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    server.get_mount_points().add_factory("/camera", factory)
    if server.attach(None) == 0:
        parser.exit(1, f"cannot listen on port {args.port}\n")
    print(f"ready {server.get_bound_port()}", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
