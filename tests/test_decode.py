"""Decoders: every backend returns exactly the frames one sequential decode yields, for
random, unsorted, repeated index lists; counts come from the stream; errors name the file."""

import os
import weakref

import numpy as np
import pytest
import torch

from actionkit.data import encode, synthetic, tools
from actionkit.data.decode import DecodeError, DecodeTimeout, VideoReader, available_backends

from ._installed import installed

av = pytest.importorskip("av")

HAS_TORCHCODEC = installed("torchcodec")
HAS_DALI = installed("nvidia.dali")
needs_torchcodec = pytest.mark.skipif(not HAS_TORCHCODEC, reason="torchcodec not installed")
needs_dali = pytest.mark.skipif(not HAS_DALI, reason="nvidia-dali not installed")

# name -> (codec, gop, vfr, frames)
VIDEOS = {
    "h264_gop12": ("h264", 12, False, 60),  # long GOP with B-frames
    "h264_intra": ("h264", 1, False, 30),
    "h264_vfr": ("h264", 10, True, 40),
    "vp9_gop10": ("vp9", 10, False, 40),
    "vp9_vfr": ("vp9", 8, True, 40),
    "mjpeg": ("mjpeg", 1, False, 30),
}
CPU_BACKENDS = ["pyav", pytest.param("torchcodec", marks=needs_torchcodec)]
# DALI's colour conversion differs from FFmpeg's swscale (chroma upsampling): mean |diff|.
DALI_MEAN_TOLERANCE = 4.0


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    paths = {}
    for i, (name, (codec, gop, vfr, t)) in enumerate(VIDEOS.items()):
        frames = synthetic.render_clip(i % len(synthetic.CLASSES), t, (48, 80), seed=i)
        suffix = {"h264": ".mp4", "vp9": ".webm", "mjpeg": ".avi"}[codec]
        paths[name] = encode.write_video(
            root / f"{name}{suffix}", frames, codec=codec, gop=gop, vfr=vfr, seed=i
        )
    return paths


def sequential(path) -> np.ndarray:
    """The truth: one plain sequential decode with PyAV, in output order."""
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def index_lists(n, rng):
    yield np.arange(n)  # everything, in order
    yield np.arange(n)[::-1]  # everything, backwards
    yield rng.integers(0, n, size=3 * n)  # unsorted, repeated
    yield np.sort(rng.choice(n, size=min(8, n), replace=False))  # TSN-style sparse
    yield np.array([n - 1, 0, n - 1, n // 2])
    yield np.array([n // 3] * 4)


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("video", list(VIDEOS))
def test_cpu_backends_match_sequential_decode_exactly(videos, video, backend):
    truth = sequential(videos[video])
    reader = VideoReader(videos[video], backend=backend)
    assert len(reader) == len(truth) == VIDEOS[video][3]
    rng = np.random.default_rng(0)
    for indices in index_lists(len(truth), rng):
        frames = reader.get_frames(indices)
        assert frames.dtype == torch.uint8 and frames.shape == (len(indices), 48, 80, 3)
        np.testing.assert_array_equal(frames.numpy(), truth[indices])


@needs_dali
@pytest.mark.parametrize("video", ["vp9_gop10", "vp9_vfr", "mjpeg"])
def test_dali_cpu_matches_sequential_decode(videos, video):
    import nvidia.dali.experimental.dynamic as ndd

    data = np.frombuffer(videos[video].read_bytes(), dtype=np.uint8)
    dali_truth = ndd.decoders.video(ndd.as_tensor(data), device="cpu").torch().numpy()
    ffmpeg_truth = sequential(videos[video])
    reader = VideoReader(videos[video], backend="dali")
    assert len(reader) == len(dali_truth) == len(ffmpeg_truth)
    rng = np.random.default_rng(1)
    for indices in index_lists(len(reader), rng):
        frames = reader.get_frames(indices).numpy()
        np.testing.assert_array_equal(frames, dali_truth[indices])  # exact vs its own decode
        diff = np.abs(frames.astype(np.int16) - ffmpeg_truth[indices].astype(np.int16))
        assert diff.mean() < DALI_MEAN_TOLERANCE  # same frames as FFmpeg, other colour math


@needs_dali
def test_dali_cpu_gives_the_frames_asked_for_exactly(tmp_path):
    # Its colours differ from FFmpeg's (above); which frame it returned must not.
    path = encode.write_video(tmp_path / "i.webm", synthetic.index_clip(60), codec="vp9", gop=20)
    reader = VideoReader(path, backend="dali")
    for indices in index_lists(60, np.random.default_rng(2)):
        frames = reader.get_frames(indices).numpy()
        assert [synthetic.frame_index(f) for f in frames] == list(indices)


@needs_dali
def test_dali_cpu_refuses_h264_naming_the_file(videos):
    with pytest.raises(DecodeError, match="h264_gop12.mp4.*not h264"):
        VideoReader(videos["h264_gop12"], backend="dali")


def test_rawframes_match_the_jpeg_files(videos, tmp_path):
    from PIL import Image

    count = tools.extract_rawframes(videos["h264_gop12"], tmp_path / "clip")
    assert count == 60
    truth = np.stack(
        [np.asarray(Image.open(tmp_path / "clip" / f"img_{i:05d}.jpg")) for i in range(1, 61)]
    )
    rng = np.random.default_rng(2)
    for use_turbojpeg in (True, False):
        reader = VideoReader(tmp_path / "clip", use_turbojpeg=use_turbojpeg)
        assert reader.backend == "rawframes" and len(reader) == 60
        for indices in index_lists(60, rng):
            frames = reader.get_frames(indices).numpy().astype(np.int16)
            # Pillow and libjpeg-turbo share the IDCT; allow one level for upsampling.
            assert np.abs(frames - truth[indices]).max() <= (1 if use_turbojpeg else 0)


def test_rawframes_report_missing_and_corrupt_frames(videos, tmp_path):
    tools.extract_rawframes(videos["h264_intra"], tmp_path / "clip")
    (tmp_path / "clip" / "img_00007.jpg").unlink()
    with pytest.raises(DecodeError, match="img_00007.jpg is missing"):
        VideoReader(tmp_path / "clip")
    (tmp_path / "clip" / "img_00007.jpg").write_bytes(b"not a jpeg")
    reader = VideoReader(tmp_path / "clip")
    with pytest.raises(DecodeError, match="img_00007.jpg: not a decodable image"):
        reader.get_frames([6])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DecodeError, match="empty: no frames named like"):
        VideoReader(tmp_path / "empty")


def test_pyav_decodes_each_needed_gop_once_and_stops_after_the_last_frame(videos):
    path = videos["h264_gop12"]  # 60 frames, keyframes every 12
    reader = VideoReader(path, backend="pyav")
    impl = reader._impl
    assert impl.index.keyframes.tolist() == [0, 12, 24, 36, 48]
    impl.frames_decoded = 0
    reader.get_frames([1, 3, 5])  # one GOP, stops after frame 5 (+ B-frame reordering delay)
    assert impl.frames_decoded <= 6 + 3
    impl.frames_decoded = 0
    reader.get_frames([2, 26, 50])  # three GOPs, seeking past the two in between
    assert impl.frames_decoded <= 3 * (3 + 3)
    impl.frames_decoded = 0
    reader.get_frames(np.arange(60)[::-1])  # everything, decoded once
    assert impl.frames_decoded == 60
    # Consecutive calls go on where the last one stopped instead of seeking back to the
    # GOP's keyframe: a chunked full decode decodes each frame once.
    fresh = VideoReader(path, backend="pyav")
    chunks = [fresh.get_frames(range(s, s + 7)) for s in range(0, 56, 7)]
    assert fresh._impl.frames_decoded <= 56 + 3
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), sequential(path)[:56])


def test_pyav_decodes_on_the_calling_thread_and_frees_at_once(videos):
    # One thread per DataLoader worker: PyAV >= 17 converts colour on a pool of one thread
    # per CPU unless told, and the live decode kept it (a forked worker freeing a pool
    # inherited from its parent waits forever: a CI run hung on it). A reader dropped
    # unclosed is freed at once, not left in a reference cycle for a collection.
    def threads():
        return len(os.listdir("/proc/self/task"))

    before = threads()
    reader = VideoReader(videos["h264_gop12"], backend="pyav")
    reader.get_frames([0, 5, 30])
    assert threads() == before
    impl = weakref.ref(reader._impl)
    del reader
    assert impl() is None


def test_metadata_comes_from_the_stream(videos):
    reader = VideoReader(videos["h264_gop12"], backend="pyav")
    assert reader.fps == pytest.approx(30.0, rel=1e-3)
    assert reader.duration == pytest.approx(2.0, rel=1e-3)
    vfr = VideoReader(videos["h264_vfr"], backend="pyav")
    assert vfr._impl.index.is_vfr and not reader._impl.index.is_vfr
    assert len(vfr) == 40


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_resize_on_read(videos, backend):
    reader = VideoReader(videos["vp9_gop10"], backend=backend, size=24)
    frames = reader.get_frames([0, 5])
    assert frames.shape == (2, 24, 40, 3)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(sequential(videos["vp9_gop10"])[[0, 5]]).permute(0, 3, 1, 2),
        size=(24, 40),
        mode="bilinear",
        antialias=True,
    ).permute(0, 2, 3, 1)
    torch.testing.assert_close(frames, expected, atol=0, rtol=0)
    assert VideoReader(videos["vp9_gop10"], backend=backend, size=(16, 16)).get_frames(
        [1]
    ).shape == (1, 16, 16, 3)


def test_auto_backend_and_listing(videos, tmp_path):
    found = available_backends()
    assert "pyav" in found and "rawframes" in found
    reader = VideoReader(videos["h264_gop12"])
    assert reader.backend == ("torchcodec" if HAS_TORCHCODEC else "pyav")
    assert "frames=60" in repr(reader)


@pytest.mark.parametrize("backend", ["auto", "pyav"])
def test_bad_paths_and_indices_name_the_file(videos, tmp_path, backend):
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        VideoReader(tmp_path / "missing.mp4", backend=backend)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 10)
    with pytest.raises(DecodeError, match="junk.mp4"):
        VideoReader(junk, backend=backend)
    reader = VideoReader(videos["h264_intra"], backend=backend)
    with pytest.raises(IndexError, match="h264_intra.mp4: frame index 30 is out of range .* 30"):
        reader.get_frames([0, 30])
    with pytest.raises(IndexError, match="frame index -1"):
        reader.get_frames([-1])
    with pytest.raises(TypeError, match="indices must be a 1-D sequence of integers"):
        reader.get_frames([0.5])
    # no index: no frame, of the video's size (of the requested size with ``size``)
    assert reader.get_frames([]).shape == (0, *reader.get_frames([0]).shape[1:])
    assert reader.get_frames([]).shape[1:] != (0, 0, 3)
    sized = VideoReader(videos["h264_intra"], backend=backend, size=(16, 24))
    assert sized.get_frames(torch.zeros(0, dtype=torch.long)).shape == (0, 16, 24, 3)
    with pytest.raises(ValueError, match="backend must be"):
        VideoReader(videos["h264_intra"], backend="decord")


def test_truncated_file_raises_naming_it(videos, tmp_path):
    data = videos["h264_gop12"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="cut.mp4"):
        VideoReader(cut, backend="pyav").get_frames(np.arange(60))


def test_time_limit(videos):
    with pytest.raises(DecodeTimeout, match="h264_gop12.mp4"):
        VideoReader(videos["h264_gop12"], backend="pyav", timeout=1e-9)
    reader = VideoReader(videos["h264_gop12"], backend="pyav")
    reader.timeout = 1e-9
    with pytest.raises(DecodeTimeout, match="h264_gop12.mp4: decoding ran past its time limit"):
        reader.get_frames(np.arange(60))


def mixed_size_mjpeg(tmp_path):
    """An AVI whose MJPEG frames change size midway (48x32, then 32x32): the damage that
    made DALI overflow its buffers in the fuzz test."""
    a = encode.write_video(
        tmp_path / "a.avi", synthetic.render_clip(0, 4, (32, 48), 0), codec="mjpeg"
    )
    b = encode.write_video(
        tmp_path / "b.avi", synthetic.render_clip(0, 4, (32, 32), 0), codec="mjpeg"
    )
    path = tmp_path / "mixed.avi"
    with av.open(str(a)) as sa, av.open(str(b)) as sb, av.open(str(path), "w") as out:
        stream = out.add_stream_from_template(sa.streams.video[0])
        n = 0
        for source in (sa, sb):
            for packet in source.demux(video=0):
                if packet.size == 0:
                    continue
                packet.stream = stream
                packet.pts = packet.dts = n
                n += 1
                out.mux(packet)
    return path


@pytest.mark.parametrize(
    "backend",
    [
        "pyav",
        pytest.param("torchcodec", marks=needs_torchcodec),
        pytest.param("dali", marks=needs_dali),
    ],
)
def test_frames_changing_size_raise_naming_the_file(tmp_path, backend):
    path = mixed_size_mjpeg(tmp_path)
    with pytest.raises(DecodeError, match="mixed.avi"):
        VideoReader(path, backend=backend).get_frames(range(8))


def _x264(path, clip, params: str, encoder: str = "libx264"):
    """``clip`` encoded with the given encoder parameters (what users' files look like)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream(encoder, rate=30)
        stream.width, stream.height, stream.pix_fmt = clip.shape[2], clip.shape[1], "yuv420p"
        key = {"libx264": "x264-params", "libx265": "x265-params"}.get(encoder, "svtav1-params")
        stream.options = {key: params, "crf": "24"}
        for image in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def odd_files(tmp_path_factory):
    """Files as users have them, each of an index clip (every frame shows its number)."""
    import shutil
    import subprocess

    root = tmp_path_factory.mktemp("odd")
    clip = synthetic.index_clip(150)
    files = {
        "open_gop": _x264(root / "open_gop.mp4", clip, "open-gop=1:keyint=48:bframes=3"),
        "b_pyramid": _x264(root / "b_pyramid.mp4", clip, "keyint=60:bframes=4:b-pyramid=strict"),
        "vfr": encode.write_video(root / "vfr.mp4", clip, gop=30, vfr=True, seed=3),
    }
    try:
        files["hevc"] = _x264(root / "hevc.mp4", clip, "keyint=50:log-level=error", "libx265")
    except (av.error.FFmpegError, ValueError):
        pass  # PyAV without libx265: reported by the test below
    try:  # AV1 with SVT-AV1's hierarchical (non-reference top layer) structure
        files["av1"] = _x264(root / "av1.mp4", clip, "keyint=64:preset=12", "libsvtav1")
    except (av.error.FFmpegError, ValueError):
        pass
    if shutil.which("ffmpeg"):  # cut without re-encoding: an MP4 edit list, discarded packets
        source = encode.write_video(root / "long.mp4", clip, gop=60)
        cut = root / "cut.mp4"
        subprocess.run(
            ["ffmpeg", "-v", "error", "-y", "-ss", "1.3", "-i", str(source), "-c", "copy",
             str(cut)],
            check=True,
        )  # fmt: skip
        files["edit_list"] = cut
    return files


ODD_KINDS = ["open_gop", "b_pyramid", "vfr", "hevc", "av1", "edit_list"]
_NO_ODD = {"hevc": "PyAV has no libx265", "av1": "PyAV has no SVT-AV1", "edit_list": "no ffmpeg"}


@pytest.mark.parametrize("backend", CPU_BACKENDS)
@pytest.mark.parametrize("kind", ODD_KINDS)
def test_frame_exact_on_files_as_users_have_them(odd_files, kind, backend):
    # Frame i is the i-th frame FFmpeg presents (edit list applied): PyAV's plain
    # sequential decode, identified by the number each frame shows — and bit for bit the
    # same pixels (PyAV drops unrequested non-reference frames: what is returned, and what
    # it is predicted from, must decode as in the full decode).
    if kind not in odd_files:
        pytest.skip(_NO_ODD[kind])
    path = odd_files[kind]
    full = sequential(path)
    truth = [synthetic.frame_index(f) for f in full]
    if kind == "edit_list":
        assert truth[0] > 0 and len(truth) < 150  # the cut: frames before 1.3 s are gone
    reader = VideoReader(path, backend=backend)
    assert len(reader) == len(truth)
    for indices in index_lists(len(truth), np.random.default_rng(4)):
        frames = reader.get_frames(indices).numpy()
        assert [synthetic.frame_index(f) for f in frames] == [truth[i] for i in indices]
        np.testing.assert_array_equal(frames, full[indices])


@pytest.mark.parametrize("kind", ["open_gop", "b_pyramid", "hevc", "av1", "edit_list"])
def test_pyav_skips_frames_nothing_needs(odd_files, kind):
    # Sparse requests (TSN's 8 segments, one frame per segment; a dense 16-frame clip at
    # stride 4): the frames no requested frame is predicted from are not decoded, the
    # output equals the decode without skipping, and chunked calls (which go on where the
    # last one stopped) still return every frame.
    if kind not in odd_files:
        pytest.skip(_NO_ODD[kind])
    path = odd_files[kind]
    n = len(VideoReader(path, backend="pyav"))
    tsn = (np.arange(8) * n // 8 + n // 16).tolist()
    dense = list(range(n // 4, n // 4 + 64, 4))
    counts = {}
    for skip in (True, False):
        reader = VideoReader(path, backend="pyav", skip_nonref=skip)
        counts[skip] = []
        for indices in (tsn, dense):
            reader._impl.close()  # (a fresh decode each)
            reader._impl.frames_decoded = 0
            frames = reader.get_frames(indices)
            counts[skip].append((reader._impl.frames_decoded, frames))
    for (fewer, ours), (full, theirs) in zip(counts[True], counts[False], strict=True):
        assert torch.equal(ours, theirs)
        if kind == "av1":  # not skipped: dav1d drops hidden frames a shown one needs
            assert fewer == full
        else:
            assert fewer < full, (fewer, full)
    chunked = VideoReader(path, backend="pyav")
    chunks = [chunked.get_frames(range(s, min(s + 7, n))) for s in range(0, n, 7)]
    np.testing.assert_array_equal(torch.cat(chunks).numpy(), sequential(path))


@pytest.mark.parametrize("kind", ["open_gop", "b_pyramid"])
def test_pyav_skipping_stays_exact_with_frame_threads(odd_files, kind):
    # With frame threading FFmpeg copies skip_frame into the decoding thread per packet:
    # sparse requests stay pixel-exact with 2 and 3 threads
    path = odd_files[kind]
    full = sequential(path)
    rng = np.random.default_rng(7)
    for threads in (2, 3):
        reader = VideoReader(path, backend="pyav", num_threads=threads)
        for _ in range(6):
            indices = np.sort(rng.choice(len(full), size=8, replace=False))
            np.testing.assert_array_equal(reader.get_frames(indices).numpy(), full[indices])


def _audio_only(path):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), "fltp", "mono")
        frame.sample_rate = 16000
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def broken_files(videos, tmp_path_factory):
    """Files users hand a decoder by mistake, and what the error must say about each."""
    root = tmp_path_factory.mktemp("broken")
    data = videos["h264_gop12"].read_bytes()  # PyAV writes the MP4 index (moov) last
    files = {
        "empty.mp4": (b"", "the file is empty"),
        "junk.mp4": (b"this is not a video" * 10, "not a video file"),
        "cut.mp4": (data[: len(data) // 2], "truncated or damaged MP4/MOV file"),
    }
    out = {}
    for name, (content, words) in files.items():
        (root / name).write_bytes(content)
        out[name] = (root / name, words)
    out["audio.m4a"] = (_audio_only(root / "audio.m4a"), "holds no video stream")
    return out


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_open_errors_say_what_is_wrong_in_our_words(broken_files, backend):
    # Not the backend's internals ("SingleStreamDecoder, /__w/torchcodec/...cpp:52"):
    # the file and what is wrong with it; the backend's message stays as the cause.
    for name, (path, words) in broken_files.items():
        with pytest.raises(DecodeError) as caught:
            VideoReader(path, backend=backend)
        message = str(caught.value)
        assert message.startswith(f"{path}: cannot open: ") and words in message, message
        for leak in ("SingleStreamDecoder", ".cpp", "__w/", "avformat", "Errno"):
            assert leak not in message, message
        # where the backend raised, its words stay as the cause (--debug shows them)
        assert caught.value.__cause__ is not None or "no video stream" in message, name


def test_diagnose_names_what_a_file_is(tmp_path):
    from actionkit.data.decode._base import diagnose

    # FFmpeg opens a PNG as a one-frame "video" (PyAV does); torchcodec refuses it
    png = tmp_path / "clip.mp4"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    assert diagnose(str(png)) == "not a video: the file is a PNG image"
    zipped = tmp_path / "clips.mp4"
    zipped.write_bytes(b"PK\x03\x04" + b"\0" * 64)
    assert diagnose(str(zipped)) == "not a video: the file is a ZIP archive"


def test_check_prints_the_reason_in_our_words(broken_files, tmp_path, capsys):
    from actionkit.cli.data import main

    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{p} 0\n" for p, _ in broken_files.values()))
    assert main(["check", str(listing)]) == 1
    out = capsys.readouterr().out
    for path, words in broken_files.values():
        assert f"{words}" in out and path.name in out
    assert "SingleStreamDecoder" not in out and ".cpp" not in out
