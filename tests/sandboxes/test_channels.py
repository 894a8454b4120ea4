"""The attach stream's frames may arrive in pieces; a half frame is not end of stream."""

import socket
import struct
import threading
import time

import pytest

from sandboxes.base import WorkerBroken
from sandboxes.docker_sandbox import AttachChannel


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_line_split_across_partial_frames_and_stderr_frames():
    ours, theirs = socket.socketpair()
    channel = AttachChannel(ours)
    data = frame(2, b"ignored stderr") + frame(1, b'{"status": "pa') + frame(1, b'ssed"}\n{"next"')

    def dribble():
        for i in range(0, len(data), 5):  # 5 bytes at a time: headers and payloads split
            theirs.sendall(data[i:i + 5])
            time.sleep(0.002)

    t = threading.Thread(target=dribble)
    t.start()
    assert channel.readline(5) == b'{"status": "passed"}'
    t.join()
    theirs.close()
    with pytest.raises(WorkerBroken):
        channel.readline(5)  # the rest never ends its line before the stream closes
