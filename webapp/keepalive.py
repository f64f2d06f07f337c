"""uvicorn's HTTP protocol, except that a kept-alive connection is not closed while a request
waits unread in its socket.

libuv runs due timers before it polls for input. When the web app's event loop is held up for
longer than the keep-alive (a long page, a paused host), a request that arrived meanwhile is
still in the socket when the keep-alive timer fires: uvicorn would close the connection and the
kernel answers the client with a reset (nginx turns it into a 502; TradingView does not retry).
Here the timer leaves such a connection open; the loop reads the request next and answers it,
and the keep-alive starts again after that answer."""
import fcntl
import struct
import termios

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


def unread_bytes(transport) -> int:
    """Bytes received on the transport's socket that the event loop has not read yet."""
    sock = transport.get_extra_info("socket")
    fd = sock.fileno() if sock is not None else -1
    if fd < 0:                                      # closed already
        return 0
    try:
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


class AnswersQueuedRequests(HttpToolsProtocol):
    def timeout_keep_alive_handler(self) -> None:
        if unread_bytes(self.transport):
            self.timeout_keep_alive_task = None
            return
        super().timeout_keep_alive_handler()


KEEP_ALIVE_S = 5    # an idle connection closes after this (nginx's upstream keeps one 4 s)
SERVER_OPTIONS = {"http": AnswersQueuedRequests, "loop": "uvloop",
                  "timeout_keep_alive": KEEP_ALIVE_S}
