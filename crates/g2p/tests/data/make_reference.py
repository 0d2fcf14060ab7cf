#!/usr/bin/env python3
"""Generates reference.tsv: sentence <TAB> phonemes from the real hibari G2P.

Provenance
  package:   hibari-tts 0.2.1 (PyPI, Apache-2.0), module hibari.g2p, class G2P() (American
             lexicon, bundled oov.onnx run by onnxruntime on CPU, one thread)
  assets:    the package's own hibari/assets/*; byte-identical to models/hibari/ as fetched by
             the project (checked with md5sum when this file was written)
  venv:      /root/.cache/attendant/venv-tts (python 3.11, hibari-tts 0.2.1, onnxruntime)

Regenerate
  /root/.cache/attendant/venv-tts/bin/python crates/g2p/tests/data/make_reference.py \
      > crates/g2p/tests/data/reference.tsv

The sentences avoid digits, '#' and '*': the Rust crate reads those the phone-menu way on
purpose (see src/phone.rs), so they would not compare. Column 2 is G2P()(sentence) verbatim;
the test drops characters missing from vocab.json on both sides, as the voice's runner does.
"""
import importlib.metadata
import sys

from hibari.g2p import G2P

SENTENCES = [
    # IVR prompts
    "Thank you for calling Contoso. For billing, press one.",
    "For technical support, press two. To speak with an agent, press zero.",
    "Your call is important to us. Please stay on the line.",
    "All of our representatives are currently assisting other customers.",
    "Please say or enter your account number, followed by the pound key.",
    "I'm sorry, I didn't catch that. Could you repeat it?",
    "To hear these options again, press nine.",
    "You can also visit us online at any time.",
    "Please hold while I transfer your call.",
    "Your estimated wait time is less than five minutes.",
    "Para español, oprima el número dos.",
    "If you know your party's extension, you may dial it at any time.",
    "Our offices are closed. Please call back during normal business hours.",
    "Welcome to Fabrikam Bank's automated service line.",
    "Would you like to pay your balance now? Say yes or no.",
    "Okay, I've updated your mailing address.",
    "Goodbye, and have a great day!",
    "Press star to return to the main menu.",
    "Your payment has been received. Thank you.",
    "Let's get you to the right place.",
    "I can help with orders, returns, and deliveries.",
    "Please wait; we're connecting you to a specialist.",
    "This call may be monitored or recorded for quality assurance.",
    "Sorry, that isn't a valid selection.",
    "You've reached the voicemail of Doctor Patel.",
    "Tell me, in a few words, why you're calling today.",
    "For Contosovia Airlines reservations, stay on the line.",
    "Northwind Traders' support hours are weekdays, eight to six.",
    "Your claim was approved; a check is on its way.",
    "We couldn't verify your identity. Let's try again.",
    # heteronyms
    "I read the book yesterday, and now I read the news every morning.",
    "Lead is a heavy metal, but she will lead the team.",
    "They live in a house near the live music venue.",
    "Please record your message after the tone; the record will be kept.",
    "The wind was too strong to wind the sail.",
    "He wound the bandage around the wound.",
    "The bass player caught a bass in the lake.",
    "We must polish the Polish furniture.",
    "I object to that object on the desk.",
    "The present is a gift, so let me present it.",
    "Does he know how many does are in the field?",
    "Close the door when you get close to home.",
    "The dove dove into the bushes.",
    "I used to live there; I used a map.",
    "She wanted to desert her post in the desert.",
    "He will refuse to carry the refuse out.",
    "Minute details matter in every minute of the call.",
    "Can you produce fresh produce by Friday?",
    "The content of the letter left her content.",
    "They were too close to the tear in the fabric to shed a tear.",
    # contractions and possessives
    "I'm here, you're there, and they're everywhere.",
    "We'll see what's next, won't we?",
    "She'd have called if she'd known.",
    "It's the company's policy, not the customers' choice.",
    "The children's toys were in James's car.",
    "Don't worry, it'll be fine, y'all.",
    "He's been gone, hasn't he?",
    "That's the agents' desk and the manager's office.",
    "Let's not forget the boss's birthday.",
    "Wouldn't you'd rather wait?",
    # names and brands
    "Satya Nadella spoke at the Microsoft event in Redmond.",
    "Ngozi Okonjo-Iweala met Jacinda Ardern in Wellington.",
    "Siobhan and Saoirse visited Worcestershire and Leicester.",
    "Fabrikam, Contoso, and Tailspin Toys are fictional companies.",
    "Zylquorp Industries announced the Brantovex platform.",
    "Adventure Works ships to Wingtip Toys every Tuesday.",
    "Please ask for Xiomara or Thibault at the front desk.",
    "Kubernetes runs the Attendant media worker pods.",
    "Margie's Travel partnered with Litware and Proseware.",
    "Glorbnak, Snerfle, and Quuxbridge are made-up words.",
    # abbreviations and titles
    "Dr. Smith will see you now.",
    "Mr. and Mrs. Johnson live on Elm St. near the park.",
    "The U.S. and the U.K. signed the agreement.",
    "Contact the IT department or the HR team.",
    "NASA and the FBI held a joint press conference.",
    "Send it ASAP, e.g. by courier, i.e. not by mail.",
    "Prof. Garcia and Gen. Lee arrived early.",
    "The CEO and CFO met with the VP of sales.",
    "St. Louis is in Missouri, and Mt. Rainier is in Washington.",
    "Please bring your ID and SSN card.",
    "The FAQ page explains the API and the SDK.",
    "Acme Corp. and Globex Inc. are rivals.",
    "Meet me at the corner of Main St. and Oak Ave.",
    "It happened approx. an hour ago, vs. yesterday.",
    "AT&T and Procter & Gamble are large companies.",
    # hyphenated words
    "It was a well-known, long-term, state-of-the-art solution.",
    "My mother-in-law prefers self-service kiosks.",
    "The follow-up call is a must-have for high-value clients.",
    "We offer twenty-four-hour support, seven days a week.",
    "A user-friendly, easy-to-use interface helps first-time callers.",
    "Re-enter your PIN; it's case-sensitive.",
    "The Seattle-based company opened a pop-up store.",
    "It's a do-it-yourself, one-size-fits-all approach.",
    # punctuation and quotes
    "\"Hello,\" she said, \"how can I help?\"",
    "He asked: 'Is this the right number?'",
    "Wait... what did you say?",
    "The options are: billing, sales, or support.",
    "Hmm — that's interesting, isn't it?",
    "Yes! No? Maybe.",
    "(This message will not repeat.)",
    "Choose one - billing or payments.",
    "Well, well, well; look who's calling.",
    "“Smart quotes” and ‘single quotes’ should work too.",
    "Are you sure? Really sure?!",
    "The word is spelled C-O-N-T-O-S-O.",
    "Press the key marked with the letter A.",
    "I said no; I meant it.",
    "Okay... okay... fine!",
    # prose
    "The quick brown fox jumps over the lazy dog.",
    "She sells sea shells by the sea shore.",
    "A journey of a thousand miles begins with a single step.",
    "The weather today is cloudy with a chance of rain.",
    "Our new policy takes effect at the beginning of next month.",
    "Although it was late, the engineers kept debugging the deployment.",
    "Photosynthesis converts sunlight into chemical energy.",
    "The orchestra performed Tchaikovsky's symphony beautifully.",
    "An honest man and a humble heir walked into an hour-long meeting.",
    "The archaeologist deciphered the hieroglyphics.",
    "I think, therefore I am.",
    "To be or not to be, that is the question.",
    "The thermostat automatically adjusts the temperature.",
    "Rhythm and rhyme make poetry memorable.",
    "Colonel Mustard was in the library with the candlestick.",
    "Our knowledgeable staff will answer your questions.",
    "The entrepreneur's reconnaissance was unprecedented.",
    "Worcester sauce is hard to pronounce.",
    "Queue up the queries and we'll process them quickly.",
    "The psychologist studied psychology and physiology.",
    "Gnomes and knights gnawed on gnarled knots.",
    "Through the rough cough and dough, he thought it through.",
    "The phenomenon was extraordinarily rare.",
    "Antidisestablishmentarianism is a very long word.",
    "They're going to their house over there.",
    "The data is stored in the cloud and synchronized nightly.",
    "In the beginning, the agent's queue was empty.",
    "Whose turn is it to take the minutes?",
    "Supercalifragilisticexpialidocious!",
    "The an the a an the.",
    # casing and odd words
    "PLEASE HOLD FOR THE NEXT AVAILABLE AGENT.",
    "The iPhone and the eBay app were updated.",
    "Your McDonald's order is ready at the MacBook counter.",
    "OK, thanks.",
    "The café served crème brûlée and jalapeño nachos.",
    "Naïve résumé reviewers love façades.",
    "He played the role of the villain in Les Misérables.",
    "The chatbot said: blorptastic, flimflam, kerfuffle.",
    "We need to re-prioritize the backlog.",
    "Call the helpdesk if the VPN doesn't connect.",
    "Email support at help at contoso dot com.",
    "Visit www.contoso.com for more information.",
    "Your username is jdoe, all lowercase.",
    "Tap Settings, then Privacy, then Microphone.",
    "X marks the spot, said the pirate.",
]


def main():
    g2p = G2P()
    version = importlib.metadata.version("hibari-tts")
    out = sys.stdout
    out.write(f"# generated by make_reference.py with hibari-tts {version}; sentence<TAB>G2P()(sentence)\n")
    for s in SENTENCES:
        assert "\t" not in s and "\n" not in s
        out.write(f"{s}\t{g2p(s)}\n")


if __name__ == "__main__":
    main()
