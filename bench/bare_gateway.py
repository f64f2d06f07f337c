"""The webhook benchmark's baseline: a bare Starlette app that only produces each body to Kafka
with acks=all and answers 200 (no lookup, no validation, no ledger). Run by uvicorn with the
same options as pinewire's web app; BARE_BOOTSTRAP and BARE_TOPIC name the broker and topic."""
import contextlib
import os

from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def hook(request):
    await request.app.state.producer.send_and_wait(os.environ["BARE_TOPIC"], await request.body())
    return JSONResponse({"status": "queued"})


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.producer = AIOKafkaProducer(bootstrap_servers=os.environ["BARE_BOOTSTRAP"],
                                          acks="all", linger_ms=0)
    await app.state.producer.start()
    yield
    await app.state.producer.stop()


app = Starlette(routes=[Route("/hook/{token}", hook, methods=["POST"])], lifespan=lifespan)
