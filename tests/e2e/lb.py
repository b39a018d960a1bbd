#!/usr/bin/env python3
"""lb.py - a load balancer for the tests: several casebookd behind one
loopback port, as docs/OPERATIONS.md puts them behind a real one.

  lb.py PORT BACKEND_PORT...

Each new connection goes to the next backend in turn (a random one
first); a backend that refuses the connection is skipped for the next.
It writes "open K" when a connection to backend K (1, 2, ...) is made
and "close K" when it ends, one line each, on standard output. Only
127.0.0.1. It runs until killed.
"""
import asyncio
import random
import sys


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


def main():
    port = int(sys.argv[1])
    backends = [int(p) for p in sys.argv[2:]]
    turn = [random.randrange(len(backends))]

    async def handle(creader, cwriter):
        for _ in range(len(backends)):
            k = turn[0] % len(backends)
            turn[0] += 1
            try:
                breader, bwriter = await asyncio.open_connection(
                    "127.0.0.1", backends[k])
            except OSError:
                continue
            print("open", k + 1, flush=True)
            await asyncio.gather(pipe(creader, bwriter),
                                 pipe(breader, cwriter))
            print("close", k + 1, flush=True)
            return
        cwriter.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port)
        print("listening", port, flush=True)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
