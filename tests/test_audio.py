"""Audio: MMAction2's log-mel features (against its own tools/data/build_audio_features.py
on the same WAV files), the soundtrack round trip through each container, the feature
clips of AudioFeatureSelector, the audio dataset, actionkit-data extract-audio, and the
synthetic soundtracks the audio demo learns from."""

import json
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from actionkit.data import synthetic
from actionkit.data.audio import (
    AudioFeatureDataset,
    NoAudioError,
    audio_features,
    load_audio,
    log_mel_spectrogram,
    mel_filterbank,
    resample,
    select_features,
)
from actionkit.data.decode import DecodeError
from actionkit.data.encode import write_video
from actionkit.data.sampling import SampleFrames
from actionkit.errors import DataError

from .parity_weights import make_sound

pytest.importorskip("av")
FIXTURE = Path(__file__).parent / "fixtures" / "mmaction" / "audio_features.pt"
CASES = torch.load(FIXTURE, weights_only=True)["cases"]


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as f:
        f.setnchannels(pcm.shape[1])
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(pcm.tobytes())
    return path


def case_wav(name: str, tmp_path: Path) -> Path:
    c = CASES[name]
    pcm = make_sound(c["samples"], c["channels"], c["seed"], c["amplitude"])
    return write_wav(tmp_path / f"{name}.wav", pcm, c["rate"])


@pytest.mark.parametrize("name", ["mono_16k", "stereo_16k", "whole_hops", "quiet"])
def test_features_equal_mmaction2(name, tmp_path):
    # 16 kHz tracks: MMAction2's samples are ours (no resampling), and so are the
    # features, to float32 rounding: 1.5 s of tones and noise, a stereo file (channels
    # averaged), a length of whole hops (no end padding), a track quieter than the RMS
    # floor of 1e-4 (not scaled up to 0.1)
    expected = CASES[name]["features"].numpy()
    ours = audio_features(case_wav(name, tmp_path))
    assert ours.shape == expected.shape and ours.dtype == np.float32
    assert np.abs(ours - expected).max() <= 2e-7  # measured: 6e-8, one ulp below 1
    assert 0.2 < expected.mean() < 0.9  # not a degenerate case (all clipped to 0 or 1)


def test_features_of_a_44k_track_within_the_resamplers_difference(tmp_path):
    # 44.1 kHz: resampled by swresample here, resampy (kaiser_best) there; the features
    # differ by the filters' responses only (measured: mean 0.0021, max 0.054 on [0, 1])
    expected = CASES["mono_44k"]["features"].numpy()
    ours = audio_features(case_wav("mono_44k", tmp_path))
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).mean() < 0.005 and np.abs(ours - expected).max() < 0.1


def test_mel_filterbank_is_slaneys():
    # hand-checked properties of librosa's Slaney filterbank: 80 triangles from 125 Hz to
    # 7.6 kHz, each of area 2 / (its width in Hz) / bin spacing... i.e. every filter's
    # peak is 2 / (f_right - f_left); consecutive filters overlap by half
    bank = mel_filterbank(16000, 512, 80, 125.0, 7600.0).double()
    assert bank.shape == (80, 257) and (bank >= 0).all()
    freqs = torch.linspace(0, 8000, 257)
    active = bank > 0
    assert freqs[active[0]].min() > 125 and freqs[active[-1]].max() < 7600
    # below 1 kHz the mel scale is linear: equal widths of 200/3 Hz * 1 mel step
    low = [int(torch.nonzero(row).max() - torch.nonzero(row).min()) for row in active[:5]]
    assert max(low) - min(low) <= 1


def test_feature_rows_and_rms_scaling():
    # one row per 256 samples after the 256-sample lead-in, rounded up; the level of the
    # input does not matter above the RMS floor (scaled to 0.1 first)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(5000).astype(np.float32) * 0.01
    a = log_mel_spectrogram(x)
    assert a.shape == (-(-(5000 + 256) // 256), 80)
    np.testing.assert_allclose(log_mel_spectrogram(x * 30), a, atol=1e-5)
    with pytest.raises(ValueError, match="non-empty 1-D"):
        log_mel_spectrogram(np.zeros((2, 10)))


@pytest.mark.parametrize("codec", ["h264", "vp9", "mjpeg"])
def test_soundtrack_round_trip_through_each_container(codec, tmp_path):
    # a 1 s, 440 Hz tone written with the video (AAC / Opus / PCM at 48 kHz) reads back
    # as 1 s at 16 kHz whose loudest mel band holds 440 Hz
    frames = np.zeros((30, 32, 32, 3), np.uint8)
    t = np.arange(48000) / 48000
    path = tmp_path / f"v{synthetic.CODECS[codec][1]}"
    write_video(
        path, frames, codec=codec, audio=0.5 * np.sin(2 * np.pi * 440 * t), audio_rate=48000
    )
    samples = load_audio(path)
    assert abs(len(samples) - 16000) <= 1100  # (AAC adds its encoder delay)
    band = audio_features(path)[5:-5].mean(0).argmax()
    bank = mel_filterbank(16000, 512, 80, 125.0, 7600.0)
    peak_hz = bank[band].argmax().item() * 16000 / 512
    assert abs(peak_hz - 440) < 40


def test_no_audio_track_and_bad_files_are_named(tmp_path):
    silent = write_video(tmp_path / "silent.mp4", np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(NoAudioError, match="silent.mp4: no audio track"):
        load_audio(silent)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(DecodeError, match="bad.mp4"):
        load_audio(bad)
    with pytest.raises(FileNotFoundError, match="none.mp4"):
        load_audio(tmp_path / "none.mp4")


def test_select_features_as_mmaction2_defines_it():
    # frame i of 10 at row (i + 1) / 10 * 20, rounded; cut or zero-padded to the length
    features = np.arange(20, dtype=np.float32)[:, None].repeat(2, 1)
    out = select_features(features, np.array([[2, 3, 4], [0, 4, 9]]), 10, fixed_length=6)
    assert out.shape == (2, 6, 2)
    # clip 0: rows round(3 / 10 * 20) = 6 to round(5 / 10 * 20) = 10, then zeros
    assert out[0, :, 0].tolist() == [6, 7, 8, 9, 0, 0]
    # clip 1: rows 2 to 20, cut to 6
    assert out[1, :, 0].tolist() == [2, 3, 4, 5, 6, 7]


def write_feature_list(tmp_path: Path, rows: int = 40) -> Path:
    rng = np.random.default_rng(0)
    (tmp_path / "f").mkdir()
    for name in ("a", "b"):
        np.save(tmp_path / "f" / f"{name}.npy", rng.random((rows, 80), dtype=np.float32))
    (tmp_path / "list.txt").write_text("a.npy 20 1\nb.npy 30 0\n")
    return tmp_path / "list.txt"


def test_audio_dataset_samples_clips(tmp_path):
    listing = write_feature_list(tmp_path)
    sampler = SampleFrames(clip_len=8, num_clips=3, test_mode=True)
    data = AudioFeatureDataset(listing, sampler, data_prefix=str(tmp_path / "f"), fixed_length=16)
    sample = data[0]
    assert sample["inputs"].shape == (3, 1, 16, 80) and sample["label"].item() == 1
    # the same rows select_features takes for the sampler's frames
    features = np.load(tmp_path / "f" / "a.npy")
    inds = np.asarray(sampler(20, 0, np.random.default_rng(0), None)).reshape(3, 8)
    expected = select_features(features, inds, 20, 16)
    np.testing.assert_array_equal(sample["inputs"][:, 0].numpy(), expected)


def test_audio_dataset_missing_files_are_errors_naming_the_line(tmp_path, caplog):
    listing = write_feature_list(tmp_path)
    (tmp_path / "f" / "b.npy").unlink()
    sampler = SampleFrames(clip_len=8, num_clips=1, test_mode=True)
    data = AudioFeatureDataset(listing, sampler, data_prefix=str(tmp_path / "f"))
    with pytest.raises(
        DecodeError, match=r"b.npy: no such feature file \(list .*list.txt, line 2\)"
    ):
        data[1]
    skipping = AudioFeatureDataset(
        listing, sampler, data_prefix=str(tmp_path / "f"), skip_invalid=True
    )
    assert skipping[1]["index"] == 0 and "skipping invalid sample" in caplog.text
    (tmp_path / "bad.txt").write_text("a.npy 20\n")
    with pytest.raises(DataError, match="bad.txt:1"):
        AudioFeatureDataset(tmp_path / "bad.txt", sampler)


def test_extract_audio_cli_lists_skips_and_resumes(tmp_path, capsys):
    from actionkit.cli.data import main

    videos = tmp_path / "videos"
    frames = np.zeros((16, 32, 32, 3), np.uint8)
    for k, name in enumerate(("move_right", "disc")):
        sound = synthetic.render_sound(name, 16 / 30, seed=k)
        write_video(videos / f"{name}.mp4", frames, fps=30, audio=sound, audio_rate=48000)
    write_video(videos / "silent.mp4", frames, fps=30)
    (videos / "broken.mp4").write_bytes(b"no")
    listing = tmp_path / "list.txt"
    listing.write_text("move_right.mp4 0\nsilent.mp4 1\ndisc.mp4 12\n")
    out = tmp_path / "audio"
    args = ["extract-audio", str(listing), str(out), "--data-prefix", str(videos), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "silent.mp4: no audio track, left out of the list" in printed
    audio_list = tmp_path / "list_audio.txt"
    assert audio_list.read_text() == "move_right.npy 16 0\ndisc.npy 16 12\n"
    assert (tmp_path / "list_audio.txt.no_audio.txt").read_text() == "silent.mp4\n"
    first = np.load(out / "disc.npy")
    assert first.shape[1] == 80 and first.dtype == np.float32
    # resumable: the features are kept, the list written again
    assert main(args) == 0
    assert "wrote 0 feature files" in capsys.readouterr().out and audio_list.exists()
    # a video that fails: named, exit status 1, the others still listed
    listing.write_text("move_right.mp4 0\nbroken.mp4 3\n")
    assert main(args) == 1
    assert "broken.mp4: FAILED" in capsys.readouterr().err
    assert audio_list.read_text() == "move_right.npy 16 0\n"


def test_synthetic_soundtracks_name_their_class():
    # the beeps are the class's tone: the loudest mel band of the beeps' rows holds it
    bank = mel_filterbank(16000, 512, 80, 125.0, 7600.0)
    for k, name in enumerate(synthetic.CLASSES):
        sound = synthetic.render_sound(name, 2.0, seed=k)
        assert sound.dtype == np.float32 and np.abs(sound).max() <= 1
        features = log_mel_spectrogram(resample(sound, synthetic.AUDIO_RATE, 16000))
        loud = features[features.max(1) > np.quantile(features.max(1), 0.8)]
        band = int(loud.mean(0).argmax())
        peak_hz = bank[band].argmax().item() * 16000 / 512
        assert abs(np.log2(peak_hz / synthetic.class_tone(name))) < 1 / 6, name


def test_inference_classifies_the_soundtrack(tmp_path):
    # a model name alone: MMAction2's audio test sampling (the rows of 64 frames, one
    # clip of 128 rows); the same scores as the pieces by hand
    from actionkit.apis import inference_recognizer, init_recognizer

    torch.manual_seed(0)
    model = init_recognizer("tsn_r18_audio")
    frames = np.zeros((90, 32, 32, 3), np.uint8)
    sound = synthetic.render_sound("disc", 3.0, seed=1)
    video = write_video(tmp_path / "v.mp4", frames, fps=30, audio=sound, audio_rate=48000)
    result = inference_recognizer(model, video)
    inds = np.asarray(SampleFrames(clip_len=64, num_clips=1, test_mode=True)(90, 0, None, None))
    clips = select_features(audio_features(video), inds.reshape(1, 64), 90, 128)
    with torch.no_grad():
        expected = model.predict(torch.from_numpy(clips)[None, :, None])[0]
    torch.testing.assert_close(result.pred_score, expected)
    # its features file gives the same: the rows stand for frames
    np.save(tmp_path / "v.npy", audio_features(video))
    assert inference_recognizer(model, tmp_path / "v.npy").pred_score.shape == (400,)


def test_audio_models_need_audio_data(tmp_path):
    from actionkit.config import ConfigError, load_config

    config = Path(__file__).resolve().parents[1] / "configs" / "demo" / "audio_synthetic.yaml"
    with pytest.raises(ConfigError, match="data.kind: 'video' does not fit model 'tsn_r18_audio'"):
        load_config(config, ["data.kind=video"])
    with pytest.raises(ConfigError, match="data.kind: 'audio' does not fit model 'tsn_r18'"):
        load_config(config, ["model.name=tsn_r18"])
    with pytest.raises(ConfigError, match="data.train.pipeline: audio features take no transforms"):
        load_config(config, ["data.train.pipeline=[{type: Flip}]"])


@pytest.mark.slow
def test_the_audio_demo_learns_from_sound_alone(tmp_path):
    from actionkit.cli import train

    config = Path(__file__).resolve().parents[1] / "configs" / "demo" / "audio_synthetic.yaml"
    shorter = [f"data.root={tmp_path / 'data'}", "schedule.epochs=8", "train.eval_interval=8"]
    assert train.main([str(config), "--work-dir", str(tmp_path / "w"), "--set", *shorter]) == 0
    metrics = json.loads((tmp_path / "w" / "metrics.json").read_text())
    assert metrics["num_samples"] == 14 * 10
    assert metrics["top1"] >= 0.6, metrics  # chance: 1/14
